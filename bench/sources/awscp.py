"""`aws <args>` exactly as the venv's `aws` script runs it (awscli.clidriver.main()), timed from inside.

The download benchmark's S3 baseline. The parent measures the process's wall time (Python's start
and awscli's imports included, as for `aws s3 cp` on a command line); this prints, as the last line
of stderr, the time from the command's dispatch to its end (the transfer, with the CLI's own set-up
of its session and client): {"importMs": n, "commandMs": n, "status": n}.

Usage: python bench/sources/awscp.py --endpoint-url URL s3 cp s3://bucket/key out --only-show-errors
(credentials in the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION)
"""

import json
import sys
import time

started = time.perf_counter()
import awscli.clidriver  # noqa: E402  (timed: the import is most of the CLI's start-up)

imported = time.perf_counter()
sys.argv[0] = "aws"
status = awscli.clidriver.main()
ended = time.perf_counter()
print(
    json.dumps({"importMs": (imported - started) * 1000, "commandMs": (ended - imported) * 1000, "status": status}),
    file=sys.stderr,
)
sys.exit(status)
