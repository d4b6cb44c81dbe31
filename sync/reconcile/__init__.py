"""Manual reconciliation: the acts people make on what the service decided.

Each act (link, unlink, assign, revoke, resolve, reopen) is a service function
here with its operator and reason; the click commands in
`sync.cli.reconcile_cmd` only parse, call and print. Acts that change links or
ownership are previewed (timelines before and after, the ownership changes
each agency will be told of) and change nothing until applied. Stored acts are
inputs to every later decision pass, so they survive later runs.
"""
