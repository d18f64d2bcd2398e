#!/bin/sh
# Print a greeting and the job's identity; exit with $EXIT_CODE (default 0).
echo "hello from batchform: job ${AWS_BATCH_JOB_ID:-unknown}, greeting ${GREETING:-none}"
uname -sm
exit "${EXIT_CODE:-0}"
