"""An async operation's function: sums the payload's values (the walkthrough in the README)."""


def handler(event, context):
    return {"operation": context.aws_request_id, "total": sum(event["values"])}
