#!/bin/sh
# A script fetch-and-run fetches and runs: its output is the job's log, its exit code the job's.
set -eu
echo "report for ${TEAM:-nobody}: running as job ${AWS_BATCH_JOB_ID:-local}"
echo "python $(python3 -c 'import sys; print(sys.version.split()[0])') on $(uname -m)"
