"""Where moto differs from AWS in ways batchform relies on, the local stack's emulator behaves as AWS."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.stack


def test_a_launch_templates_own_tags_stay_off_its_version_data(local_account) -> None:  # noqa: ANN001
    """AWS keeps template tags on the template; echoed in the data they make every plan show a change."""
    ec2 = local_account.client("ec2")
    name = f"tags-check-{uuid.uuid4().hex[:8]}"
    created = ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={
            "InstanceType": "m5.large",
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "batch"}]}],
        },
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "team", "Value": "batch"}]}],
    )["LaunchTemplate"]
    try:
        template = ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"][0]
        assert template["Tags"] == [{"Key": "team", "Value": "batch"}]
        data = ec2.describe_launch_template_versions(LaunchTemplateId=created["LaunchTemplateId"])[
            "LaunchTemplateVersions"
        ][0]["LaunchTemplateData"]
        assert [spec["ResourceType"] for spec in data["TagSpecifications"]] == ["instance"]
    finally:
        ec2.delete_launch_template(LaunchTemplateId=created["LaunchTemplateId"])
