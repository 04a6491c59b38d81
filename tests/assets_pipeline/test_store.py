"""One contract suite over [LocalStore, S3Store]; S3Store talks HTTP to a moto server on loopback."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

import pytest

from assets_pipeline.errors import InvalidAsset, NotFound, StorageError
from assets_pipeline.store import AssetStore, object_key, open_store
from assets_pipeline.store.local import LocalStore
from assets_pipeline.store.s3 import MB, S3Store

from .catalog_fixtures import S3_KEYS, free_port, local_settings, s3_settings


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> AssetStore:
    if request.param == "local":
        return open_store(local_settings(tmp_path))
    return open_store(s3_settings(request.getfixturevalue("moto_url"), tmp_path))


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_put_get_exists_delete(store: AssetStore, tmp_path: Path) -> None:
    data = os.urandom(100_000)
    sha = hashlib.sha256(data).hexdigest()
    key = object_key(sha)
    assert not store.exists(key)
    seen: list[int] = []
    obj = store.put(_file(tmp_path, "a.bin", data), progress=seen.append)
    assert (obj.key, obj.sha256, obj.bytes, obj.created) == (key, sha, len(data), True)
    assert sum(seen) == len(data)
    assert store.exists(key) and store.size(key) == len(data)
    assert store.get(key) == data
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(NotFound):
        store.get(key)


def test_same_bytes_are_stored_once(store: AssetStore, tmp_path: Path) -> None:
    data = b"glTF" + os.urandom(5000)
    first = store.put(_file(tmp_path, "one.glb", data))
    again = store.put(_file(tmp_path, "two.glb", data))  # another name, same bytes
    assert first.created and not again.created and first.key == again.key


def test_keys_are_checked(store: AssetStore) -> None:
    for bad in ("../etc/passwd", "zz/" + "a" * 64, "ab/" + "a" * 64):
        with pytest.raises((InvalidAsset, NotFound)):
            store.get(bad)
    with pytest.raises(InvalidAsset):
        object_key("not-a-digest")


def test_presigned_urls(store: AssetStore, tmp_path: Path) -> None:
    data = os.urandom(2048)
    obj = store.put(_file(tmp_path, "p.bin", data))
    url = store.presign(obj.key, 60)
    if isinstance(store, LocalStore):
        assert url is None  # the HTTP API serves local objects itself
        return
    assert url is not None and "Signature=" in url
    with urllib.request.urlopen(str(url), timeout=10) as resp:  # no credentials: the URL is the permission
        assert resp.read() == data


def test_s3_multipart_upload_verifies_checksum(moto_url: str, tmp_path: Path) -> None:
    settings = s3_settings(moto_url, tmp_path, s3_multipart_threshold_mb=5, s3_part_size_mb=5)
    store = S3Store.from_settings(settings)
    data = os.urandom(12 * MB + 123)  # 3 parts
    seen: list[int] = []
    obj = store.put(_file(tmp_path, "big.bin", data), progress=seen.append)
    assert obj.created and len(seen) == 3 and sum(seen) == len(data)
    head = store.client.head_object(Bucket=settings.s3_bucket, Key="assets/" + obj.key)
    assert head["ETag"].strip('"').endswith("-3") and head["Metadata"]["sha256"] == obj.sha256
    assert hashlib.sha256(store.get(obj.key)).hexdigest() == obj.sha256


def test_s3_stale_multipart_upload_is_aborted_on_retry(moto_url: str, tmp_path: Path) -> None:
    settings = s3_settings(moto_url, tmp_path, s3_multipart_threshold_mb=5, s3_part_size_mb=5)
    store = S3Store.from_settings(settings)
    data = os.urandom(11 * MB)
    path = _file(tmp_path, "big.bin", data)
    key = "assets/" + object_key(hashlib.sha256(data).hexdigest())
    # what a killed publish leaves: an open upload with one part, no object
    up = store.client.create_multipart_upload(Bucket=settings.s3_bucket, Key=key)
    store.client.upload_part(Bucket=settings.s3_bucket, Key=key, UploadId=up["UploadId"], PartNumber=1,
                             Body=data[: 5 * MB])
    assert not store.exists(object_key(hashlib.sha256(data).hexdigest()))
    assert store.put(path).created
    assert store.client.list_multipart_uploads(Bucket=settings.s3_bucket).get("Uploads", []) == []


def test_s3_unreachable_endpoint_is_a_clear_error(tmp_path: Path) -> None:
    store = S3Store("bucket", endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=2, connect_timeout=1,
                    access_key_id="testing", secret_access_key="testing")
    with pytest.raises(StorageError, match=r"cannot reach the S3 endpoint http://127\.0\.0\.1"):
        store.put(_file(tmp_path, "x.bin", b"x"))


def test_s3_missing_bucket_is_a_clear_error(moto_url: str, tmp_path: Path) -> None:
    store = S3Store("no-such-bucket-here", endpoint_url=moto_url, access_key_id="testing",
                    secret_access_key="testing")
    with pytest.raises(StorageError, match="bucket 'no-such-bucket-here' does not exist"):
        store.put(_file(tmp_path, "x.bin", b"x"))


def test_s3_wrong_credentials_are_a_clear_error(tmp_path: Path) -> None:
    """A second moto server with IAM authentication on: unknown keys are refused, nothing is stored."""
    from .catalog_fixtures import start_moto, stop

    proc, url = start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        store = S3Store("bucket", endpoint_url=url, access_key_id="AKIAWRONGWRONGWRONG1",
                        secret_access_key="wrong", max_attempts=1)
        with pytest.raises(StorageError, match="refused the credentials") as info:
            store.put(_file(tmp_path, "x.bin", b"x"))
        assert info.value.field == "PHYGITAL_ASSETS_S3_ACCESS_KEY_ID"
        assert "wrong" not in str(info.value)  # no secret in the message
    finally:
        stop(proc)


def test_s3_needs_a_bucket() -> None:
    with pytest.raises(StorageError, match="no bucket configured"):
        S3Store("", **{k.removeprefix("s3_"): v for k, v in S3_KEYS.items() if k != "s3_region"})


def test_s3_objects_are_cached_as_immutable(moto_url: str, tmp_path: Path) -> None:
    """Objects served from S3 carried no Cache-Control (the local store's are immutable through the API): single
    and multipart uploads set it, a presigned GET returns it, and an object stored without it gets it when it is
    put again."""
    from assets_pipeline.store import CACHE_IMMUTABLE

    settings = s3_settings(moto_url, tmp_path, s3_multipart_threshold_mb=5, s3_part_size_mb=5)
    store = S3Store.from_settings(settings)
    small = store.put(_file(tmp_path, "small.bin", os.urandom(4096)))
    big = store.put(_file(tmp_path, "big.bin", os.urandom(6 * MB)))
    for obj in (small, big):
        head = store.client.head_object(Bucket=settings.s3_bucket, Key="assets/" + obj.key)
        assert head["CacheControl"] == CACHE_IMMUTABLE == "public, max-age=31536000, immutable"
        with urllib.request.urlopen(str(store.presign(obj.key, 60)), timeout=10) as resp:
            assert resp.headers["Cache-Control"] == CACHE_IMMUTABLE
    old = os.urandom(1000)
    key = "assets/" + object_key(hashlib.sha256(old).hexdigest())
    store.client.put_object(Bucket=settings.s3_bucket, Key=key, Body=old, ContentType="model/gltf-binary",
                            Metadata={"sha256": hashlib.sha256(old).hexdigest()})
    assert "CacheControl" not in store.client.head_object(Bucket=settings.s3_bucket, Key=key)
    again = store.put(_file(tmp_path, "old.bin", old), content_type="model/gltf-binary")
    head = store.client.head_object(Bucket=settings.s3_bucket, Key=key)
    assert not again.created and head["CacheControl"] == CACHE_IMMUTABLE
    assert head["ContentType"] == "model/gltf-binary" and head["Metadata"]["sha256"] == again.sha256
    assert store.get(again.key) == old
