"""S3Store: objects in an S3-compatible bucket through boto3 (AWS, MinIO, moto).

- Objects at ``<prefix><xx>/<sha256>``; a HEAD first, so the same bytes are never uploaded twice.
- Files above the multipart threshold go up in parts; an interrupted upload leaves no visible object
  (S3 shows an object only once CompleteMultipartUpload succeeds) and the next put aborts the stale
  parts of that key.
- Every request retries with exponential backoff and jitter (botocore "standard" mode, bounded attempts).
- Checksums: each part's and the whole object's MD5 are compared with the ETags S3 returns (a plain
  object's ETag is its MD5; a multipart ETag is the MD5 of the parts' MD5s plus ``-<parts>``), and the
  object's sha256 is kept in its metadata.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import NotFound, StorageError
from ..settings import AssetSettings
from .base import CACHE_IMMUTABLE, Progress, StoredObject, file_sha256, object_key

logger = logging.getLogger(__name__)
T = TypeVar("T")
MB = 1024 * 1024
_AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken", "InvalidToken",
               "UnrecognizedClientException", "InvalidClientTokenId", "Forbidden", "403"}


class S3Store:
    """An asset store in an S3 bucket (AWS, MinIO, moto): multipart uploads, retries, checksums, presigned URLs."""
    name = "s3"

    def __init__(self, bucket: str, *, prefix: str = "", region: str | None = None, endpoint_url: str | None = None,
                 access_key_id: str | None = None, secret_access_key: str | None = None,
                 multipart_threshold: int = 16 * MB, part_size: int = 8 * MB, max_attempts: int = 5,
                 connect_timeout: float = 5.0) -> None:
        import boto3
        from botocore.config import Config

        if not bucket:
            raise StorageError("no bucket configured", field="PHYGITAL_ASSETS_S3_BUCKET")
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.multipart_threshold = max(int(multipart_threshold), 5 * MB)
        self.part_size = max(int(part_size), 5 * MB)  # S3's smallest part (except the last)
        config = Config(retries={"max_attempts": max_attempts, "mode": "standard"}, connect_timeout=connect_timeout,
                        read_timeout=60, signature_version="s3v4", s3={"addressing_style": "path"})
        session = boto3.session.Session(aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
                                        region_name=region or "us-east-1")
        self.client: Any = session.client("s3", endpoint_url=endpoint_url, config=config)

    @classmethod
    def from_settings(cls, settings: AssetSettings) -> S3Store:
        """Return an S3Store for the bucket, prefix, endpoint and credentials of the settings."""
        secret = settings.s3_secret_access_key
        return cls(settings.s3_bucket, prefix=settings.s3_prefix, region=settings.s3_region,
                   endpoint_url=settings.s3_endpoint_url, access_key_id=settings.s3_access_key_id,
                   secret_access_key=secret.get_secret_value() if secret else None,
                   multipart_threshold=int(settings.s3_multipart_threshold_mb * MB),
                   part_size=int(settings.s3_part_size_mb * MB), max_attempts=settings.s3_max_attempts,
                   connect_timeout=settings.s3_connect_timeout_s)

    def describe(self) -> str:
        """Return ``s3://bucket/prefix`` (and the endpoint), for messages."""
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"

    def _full(self, key: str) -> str:
        return self.prefix + key

    def _call(self, what: str, fn: Callable[[], T], key: str | None = None) -> T:
        """Run one boto3 call and turn its failures into StorageError/NotFound (one line, no secrets)."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            ParamValidationError,
        )

        try:
            return fn()
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in {"NoSuchKey", "404", "NotFound"}:
                raise NotFound("no such object in the store", field=key) from None
            if code == "NoSuchBucket":
                raise StorageError(f"bucket {self.bucket!r} does not exist",
                                   field="PHYGITAL_ASSETS_S3_BUCKET") from None
            if code in _AUTH_CODES or status == 403:
                raise StorageError(f"{what}: S3 refused the credentials ({code or status})",
                                   field="PHYGITAL_ASSETS_S3_ACCESS_KEY_ID") from None
            raise StorageError(f"{what}: S3 error {code or status}: {err.get('Message', '')}".rstrip(": ")) from None
        except EndpointConnectionError:
            raise StorageError(f"{what}: cannot reach the S3 endpoint {self.endpoint_url or '(AWS)'}",
                               field="PHYGITAL_ASSETS_S3_ENDPOINT_URL") from None
        except NoCredentialsError:
            raise StorageError(f"{what}: no S3 credentials configured",
                               field="PHYGITAL_ASSETS_S3_ACCESS_KEY_ID") from None
        except ParamValidationError as exc:
            raise StorageError(f"{what}: {exc}") from None
        except BotoCoreError as exc:
            raise StorageError(f"{what}: {type(exc).__name__}: {exc}") from None

    # --- protocol ---------------------------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        """True when an object is stored under ``key``."""
        try:
            self._call("head", lambda: self.client.head_object(Bucket=self.bucket, Key=self._full(key)), key)
        except NotFound:
            return False
        return True

    def size(self, key: str) -> int:
        """Return the size in bytes of the object under ``key``; NotFound when missing."""
        head = self._call("head", lambda: self.client.head_object(Bucket=self.bucket, Key=self._full(key)), key)
        return int(head["ContentLength"])

    def get(self, key: str) -> bytes:
        """Return the bytes stored under ``key``; NotFound when missing."""
        resp = self._call("get", lambda: self.client.get_object(Bucket=self.bucket, Key=self._full(key)), key)
        return self._call("get", lambda: resp["Body"].read(), key)

    def presign(self, key: str, seconds: int) -> str:
        """Return a presigned GET URL for ``key`` valid for ``seconds``."""
        return self._call("presign", lambda: self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._full(key)}, ExpiresIn=seconds), key)

    def delete(self, key: str) -> None:
        """Delete the object under ``key``."""
        self._call("delete", lambda: self.client.delete_object(Bucket=self.bucket, Key=self._full(key)), key)

    def create_bucket(self) -> bool:
        """Create the bucket if it is missing; True if it was created."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
            return False
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
                self._call("head bucket", lambda: self.client.head_bucket(Bucket=self.bucket))
        except Exception:
            self._call("head bucket", lambda: self.client.head_bucket(Bucket=self.bucket))
        self._call("create bucket", lambda: self.client.create_bucket(Bucket=self.bucket))
        return True

    def put(self, path: Path, *, content_type: str = "application/octet-stream",
            progress: Progress | None = None) -> StoredObject:
        """Upload a file under its sha256 key (multipart when large; nothing when present); returns the StoredObject."""
        sha = file_sha256(path)
        key = object_key(sha)
        size = path.stat().st_size
        full = self._full(key)
        head = None
        with contextlib.suppress(NotFound):
            head = self._call("head", lambda: self.client.head_object(Bucket=self.bucket, Key=full), key)
        if head is not None and int(head["ContentLength"]) == size:
            if head.get("CacheControl") != CACHE_IMMUTABLE:  # stored before objects carried it
                self._call("set cache control", lambda: self.client.copy_object(
                    Bucket=self.bucket, Key=full, CopySource={"Bucket": self.bucket, "Key": full},
                    MetadataDirective="REPLACE", ContentType=head.get("ContentType", content_type),
                    CacheControl=CACHE_IMMUTABLE, Metadata=head.get("Metadata", {})), key)
            if progress:
                progress(size)
            return StoredObject(key, sha, size, created=False)
        if size > self.multipart_threshold:
            etag = self._put_multipart(path, full, sha, content_type, progress)
        else:
            etag = self._put_single(path, full, sha, content_type, progress)
        head = self._call("verify", lambda: self.client.head_object(Bucket=self.bucket, Key=full), key)
        if head["ETag"].strip('"') != etag or int(head["ContentLength"]) != size:
            self.delete(key)
            raise StorageError("checksum mismatch after upload", path=path, field=key)
        logger.debug("stored %s (%d bytes)", full, size)
        return StoredObject(key, sha, size, created=True)

    def _put_single(self, path: Path, full: str, sha: str, content_type: str, progress: Progress | None) -> str:
        data = path.read_bytes()
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        resp = self._call("upload", lambda: self.client.put_object(
            Bucket=self.bucket, Key=full, Body=data, ContentType=content_type, CacheControl=CACHE_IMMUTABLE,
            Metadata={"sha256": sha}))
        if resp["ETag"].strip('"') != md5:
            raise StorageError("checksum mismatch after upload", path=path)
        if progress:
            progress(len(data))
        return md5

    def _abort_stale(self, full: str) -> None:
        """Abort unfinished multipart uploads of this key (left by a killed publish)."""
        resp = self._call("list uploads", lambda: self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=full))
        for up in resp.get("Uploads", []):
            if up["Key"] == full:
                self._call("abort", lambda up=up: self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=full, UploadId=up["UploadId"]))
                logger.info("aborted a stale multipart upload of %s", full)

    def _put_multipart(self, path: Path, full: str, sha: str, content_type: str, progress: Progress | None) -> str:
        self._abort_stale(full)
        upload = self._call("upload", lambda: self.client.create_multipart_upload(
            Bucket=self.bucket, Key=full, ContentType=content_type, CacheControl=CACHE_IMMUTABLE,
            Metadata={"sha256": sha}))
        upload_id = upload["UploadId"]
        parts: list[dict[str, Any]] = []
        digests: list[bytes] = []
        try:
            with path.open("rb") as fh:
                number = 1
                while chunk := fh.read(self.part_size):
                    md5 = hashlib.md5(chunk, usedforsecurity=False)
                    resp = self._call("upload part", lambda chunk=chunk, number=number: self.client.upload_part(
                        Bucket=self.bucket, Key=full, UploadId=upload_id, PartNumber=number, Body=chunk))
                    if resp["ETag"].strip('"') != md5.hexdigest():
                        raise StorageError(f"checksum mismatch in part {number}", path=path)
                    parts.append({"ETag": resp["ETag"], "PartNumber": number})
                    digests.append(md5.digest())
                    if progress:
                        progress(len(chunk))
                    number += 1
            self._call("complete upload", lambda: self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=full, UploadId=upload_id, MultipartUpload={"Parts": parts}))
        except BaseException:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
            except Exception:  # the original failure is the one to report
                logger.warning("could not abort multipart upload of %s", full)
            raise
        return f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(parts)}"
