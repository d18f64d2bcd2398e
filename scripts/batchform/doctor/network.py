"""Whether the jobs' subnets reach what a job needs: ECR (api and dkr, for the image), S3 (its
layers), CloudWatch Logs, and Secrets Manager or SSM where the jobs' secrets come from.

A subnet reaches them through its route table: a default route to an internet gateway (then a
Fargate task needs a public IP), to a NAT gateway, or VPC endpoints for each service (S3's a
gateway endpoint on the route table, or an interface endpoint). The subnets are the account's
`network.subnet_ids`, or the default VPC's, as terraform chooses them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .findings import FAIL, OK, Finding
from .subject import Subject, error_code

NEEDED = ("ecr.api", "ecr.dkr", "s3", "logs")


def _vpc_and_subnets(subject: Subject, ec2: Any) -> tuple[str | None, list[dict[str, Any]], str]:
    """(VPC id, its subnets the jobs use, what went wrong or '')."""
    network = subject.network
    vpc_id = network.get("vpc_id")
    if vpc_id is None:
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
        if not vpcs:
            return None, [], "the account has no default VPC and declares no network.vpc_id"
        vpc_id = vpcs[0]["VpcId"]
    wanted = network.get("subnet_ids") or []
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}]
    if wanted:
        filters.append({"Name": "subnet-id", "Values": list(wanted)})
    subnets = ec2.describe_subnets(Filters=filters)["Subnets"]
    missing = sorted(set(wanted) - {s["SubnetId"] for s in subnets})
    if missing:
        return vpc_id, subnets, f"subnets {', '.join(missing)} are not in VPC {vpc_id}"
    if not subnets:
        return vpc_id, [], f"VPC {vpc_id} has no subnets"
    return vpc_id, subnets, ""


def _route_table(ec2: Any, subnet: dict[str, Any]) -> dict[str, Any] | None:
    """The subnet's route table: its own association, else its VPC's main table."""
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}]
    )["RouteTables"]
    if not tables:
        tables = ec2.describe_route_tables(
            Filters=[
                {"Name": "vpc-id", "Values": [subnet["VpcId"]]},
                {"Name": "association.main", "Values": ["true"]},
            ]
        )["RouteTables"]
    return tables[0] if tables else None


def _default_route(table: dict[str, Any]) -> str:
    """'igw', 'nat' or '' for the table's active route to anywhere."""
    for route in table.get("Routes") or []:
        if route.get("DestinationCidrBlock") != "0.0.0.0/0" or route.get("State", "active") != "active":
            continue
        if str(route.get("GatewayId", "")).startswith("igw-"):
            return "igw"
        if route.get("NatGatewayId"):
            return "nat"
    return ""


def _endpoints(ec2: Any, vpc_id: str, region: str) -> list[dict[str, Any]]:
    found = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    return [
        e for e in found if e.get("State", "available").lower() == "available" and region in e["ServiceName"]
    ]


def _reached_by_endpoints(
    subnet: dict[str, Any], table: dict[str, Any], endpoints: list[dict[str, Any]], needed: Iterable[str]
) -> list[str]:
    """The needed services the subnet cannot reach through an endpoint."""
    missing = []
    for service in needed:
        reached = False
        for endpoint in endpoints:
            if not endpoint["ServiceName"].endswith(f".{service}"):
                continue
            if endpoint.get("VpcEndpointType") == "Gateway":
                reached = reached or table.get("RouteTableId") in (endpoint.get("RouteTableIds") or [])
            else:
                reached = reached or subnet["SubnetId"] in (endpoint.get("SubnetIds") or [])
        if not reached:
            missing.append(service)
    return missing


def _on(subnet: str, status: str, found: str, fix: str = "") -> Finding:
    return Finding("network", status, found, fix, subnet)


def routes(subject: Subject) -> list[Finding]:
    account = subject.account
    ec2 = account.client("ec2")
    try:
        vpc_id, subnets, problem = _vpc_and_subnets(subject, ec2)
    except (ClientError, BotoCoreError) as exc:
        return [
            Finding(
                "network", FAIL, f"cannot read the VPC ({error_code(exc)})", "give the deployer ec2:Describe*"
            )
        ]
    if problem:
        return [Finding("network", FAIL, problem, f"set accounts.{account.name}.network in batchform.yaml")]
    assert vpc_id is not None  # noqa: S101 - no problem means a VPC was found
    needed = [*NEEDED, *sorted(subject.uses_secrets)]
    public_ip = subject.network.get("assign_public_ip", subject.network.get("vpc_id") is None)
    endpoints = _endpoints(ec2, vpc_id, account.region)
    findings = []
    for subnet in sorted(subnets, key=lambda s: s["SubnetId"]):
        where = f"{subnet['SubnetId']} ({subnet.get('AvailabilityZone')})"
        table = _route_table(ec2, subnet)
        way = _default_route(table) if table else ""
        if way == "nat":
            findings.append(_on(where, OK, "reaches AWS through a NAT gateway"))
        elif way == "igw" and (public_ip or not subject.runs_fargate):
            findings.append(_on(where, OK, "public, through an internet gateway, with public IPs"))
        elif way == "igw":
            findings.append(
                _on(
                    where,
                    FAIL,
                    "public (internet gateway) but Fargate jobs get no public IP, so they cannot "
                    "pull their image",
                    f"set accounts.{account.name}.network.assign_public_ip: true, or use private subnets "
                    "with a NAT gateway",
                )
            )
        else:
            missing = _reached_by_endpoints(subnet, table or {}, endpoints, needed)
            if missing:
                findings.append(
                    _on(
                        where,
                        FAIL,
                        f"no route to {', '.join(missing)} (no internet or NAT gateway route, no "
                        "VPC endpoint): jobs cannot start",
                        f"add a NAT gateway route to its route table, or VPC endpoints for "
                        f"{', '.join(missing)} (com.amazonaws.{account.region}.<service>)",
                    )
                )
            else:
                findings.append(_on(where, OK, f"reaches {', '.join(needed)} through VPC endpoints"))
    return findings
