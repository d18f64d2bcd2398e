"""The embedded local stack: an AWS emulator, an OCI registry behind its guard, a docker engine.

It stands in for an AWS account on one machine. The product never imports it: the built-in
`local` account reaches it through endpoints in configuration, as any account is reached.
Its own dependencies (moto's server) are the package's `local` extra.
"""
