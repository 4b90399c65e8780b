"""The web console at /console/: key inventory, key actions, import, audit and approvals, for key
custodians and auditors who do not write boto3 (issue 18; docs/console.md; the design is
docs/decisions/console.md).

It sits beside the wire layer, under server.py, which mounts it on the API's listener. It never
serves a key operation itself: each action is the API call it stands for, signed in-process with
the signed-in principal's access key and handed to the same request pipeline a boto3 client's
call goes through (api.py), so authorization, validation and audit are the API's own.
"""
