#!/bin/sh
# One-shot (the minio-init service): creates the MLflow artifact bucket and a MinIO user for MLflow whose
# policy covers that bucket only. Safe to run again: every step tolerates what already exists.
# Credentials come from the environment (docker-compose.yml, from .env).
set -eu

mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "local/$MLFLOW_ARTIFACT_BUCKET"

policy=/tmp/mlflow-artifacts-policy.json
cat >"$policy" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
     "Resource": ["arn:aws:s3:::$MLFLOW_ARTIFACT_BUCKET"]},
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                                   "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
     "Resource": ["arn:aws:s3:::$MLFLOW_ARTIFACT_BUCKET/*"]}
  ]
}
JSON
mc admin policy create local mlflow-artifacts "$policy"
# `user add` on an existing user updates its secret, so a rotated AWS_SECRET_ACCESS_KEY takes effect on rerun.
mc admin user add local "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"
if ! mc admin user info local "$AWS_ACCESS_KEY_ID" | grep -q 'mlflow-artifacts'; then
    mc admin policy attach local mlflow-artifacts --user "$AWS_ACCESS_KEY_ID"
fi
echo "bucket $MLFLOW_ARTIFACT_BUCKET ready for user $AWS_ACCESS_KEY_ID"
