"""Where stored files live is configuration: `blob_store` and the `s3_*` keys, each overridden by its EDMS_*
variable; a value that could not work is refused at start-up, naming the variable."""
import pytest

from edms.config import ConfigError, load_settings


def test_the_blob_store_is_chosen_automatically_unless_configured(monkeypatch, tmp_path):
    monkeypatch.setenv("EDMS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("EDMS_BLOB_STORE", raising=False)
    assert load_settings("development").blob_store == "auto"


def test_the_object_store_is_configured_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EDMS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EDMS_BLOB_STORE", "s3")
    monkeypatch.setenv("EDMS_S3_ENDPOINT_URL", "https://objects.example.org")
    monkeypatch.setenv("EDMS_S3_BUCKET", "kansai-edms-records")
    monkeypatch.setenv("EDMS_S3_REGION", "ap-northeast-1")
    monkeypatch.setenv("EDMS_S3_SECRET_ACCESS_KEY", "from-the-vault")
    monkeypatch.setenv("EDMS_S3_RETENTION_YEARS", "30")

    settings = load_settings("testing")

    assert (settings.blob_store, settings.s3_endpoint_url, settings.s3_bucket, settings.s3_region,
            settings.s3_secret_access_key, settings.s3_retention_years) == (
        "s3", "https://objects.example.org", "kansai-edms-records", "ap-northeast-1", "from-the-vault", 30)


@pytest.mark.parametrize(("variables", "message"), [
    ({"EDMS_BLOB_STORE": "nfs"}, "EDMS_BLOB_STORE"),
    ({"EDMS_BLOB_STORE": "s3"}, "EDMS_S3_BUCKET"),
    ({"EDMS_S3_RETENTION_YEARS": "thirty"}, "EDMS_S3_RETENTION_YEARS"),
    ({"EDMS_S3_RETENTION_YEARS": "-1"}, "EDMS_S3_RETENTION_YEARS"),
])
def test_a_blob_store_setting_that_cannot_work_is_refused_naming_its_variable(monkeypatch, tmp_path, variables, message):
    monkeypatch.setenv("EDMS_DATA_DIR", str(tmp_path))
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_settings("testing")
