#!/usr/bin/env bash
# The device flow with curl, step by step: enroll, start a session, presign a photo, PUT it to
# S3, report the upload, finish the session, then read the photo back as a user until the
# worker has processed it. Needs bash, curl and python3 (for JSON and SHA-256).
#
#   make run                  # in another terminal
#   scripts/walkthrough.sh    # uploads scripts/sample/car.jpg to the demo organisation
#   scripts/walkthrough.sh ~/Pictures/IMG_0001.jpg
#
# Settings (environment), defaults for `make run` on this checkout:
#   API            http://127.0.0.1:8000
#   ORG SITE CODE  the demo org id, site id and enrollment code (what `make run` prints; read
#                  from $VAR_DIR/demo-credentials.json when not set)
#   READ_TOKEN     a user token to read the photo back; when not set, one is issued for
#                  READER_EMAIL (reviewer@demo.example) with `manage.py issue_token`
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PHOTO=${1:-$ROOT/scripts/sample/car.jpg}
API=${API:-http://127.0.0.1:8000}/v1
DEMO=${VAR_DIR:-$ROOT/var}/demo-credentials.json
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}

# json FIELD...: print a field of the JSON on stdin (nested: json headers Content-Type).
json() {
  python3 -c 'import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1:]:
    value = value[key]
print(value)' "$@"
}
demo() { json "$1" <"$DEMO"; }
# call METHOD PATH TOKEN [BODY]: a JSON API call; stops the script on an error status.
call() {
  curl -sS --fail-with-body -X "$1" "$API$2" -H "Authorization: Bearer $3" \
    -H "Content-Type: application/json" ${4:+--data "$4"}
}

ORG=${ORG:-$(demo org_id)}
SITE=${SITE:-$(demo site_id)}
CODE=${CODE:-$(demo enrollment_code)}

# 1. Enroll the device with the enrollment code: a 30-day device token.
TOKEN=$(curl -sS --fail-with-body -X POST "$API/auth/device" \
  -H "Content-Type: application/json" \
  --data "{\"org_id\": \"$ORG\", \"platform\": \"ios\", \"model\": \"iPhone 15 Pro\",
           \"app_version\": \"1.0.0\", \"enrollment_code\": \"$CODE\"}" | json access_token)
echo "1. enrolled: device token ${TOKEN:0:12}…"

# 2. Start a stills session for a vehicle (created if the VIN is new).
SESSION=$(call POST /sessions "$TOKEN" \
  "{\"site_id\": \"$SITE\", \"vehicle\": {\"vin\": \"1HGCM82633A004352\"},
    \"mode\": \"stills\", \"shot_list\": {\"stills\": [\"front_3q\", \"rear_3q\"]}}" | json id)
echo "2. session $SESSION"

# 3. Presign the photo: its SHA-256 (hex) goes into the request and the URL's signature.
SHA256=$(python3 -c 'import hashlib, sys
print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$PHOTO")
PRESIGN=$(call POST /presign "$TOKEN" \
  "{\"session_id\": \"$SESSION\", \"file_name\": \"$(basename "$PHOTO")\",
    \"shot_name\": \"front_3q\", \"content_type\": \"image/jpeg\",
    \"content_sha256\": \"$SHA256\"}")
IMAGE=$(json image_id <<<"$PRESIGN")
echo "3. presigned image $IMAGE"

# 4. PUT the bytes to S3 with exactly the headers the presign returned.
curl -sS --fail-with-body -X PUT --upload-file "$PHOTO" \
  -H "Content-Type: $(json headers Content-Type <<<"$PRESIGN")" \
  -H "x-amz-content-sha256: $(json headers x-amz-content-sha256 <<<"$PRESIGN")" \
  -H "x-amz-checksum-sha256: $(json headers x-amz-checksum-sha256 <<<"$PRESIGN")" \
  "$(json upload_url <<<"$PRESIGN")"
echo "4. uploaded $(basename "$PHOTO") to S3"

# 5. Report the upload: processing starts.
call POST /events "$TOKEN" \
  "{\"entity_type\": \"image\", \"entity_id\": \"$IMAGE\", \"type\": \"upload_complete\"}" \
  >/dev/null
echo "5. reported upload_complete"

# 6. Finish the session.
call PATCH "/sessions/$SESSION" "$TOKEN" '{"status": "complete"}' >/dev/null
echo "6. session complete"

# 7. Read the image back as a user (devices cannot read images) until it is processed.
if [ -z "${READ_TOKEN:-}" ]; then
  # The development server's settings (make run sets DEBUG=true the same way).
  READ_TOKEN=$(cd "$ROOT" && DEBUG="${DEBUG:-true}" "$PYTHON" manage.py issue_token \
    --email "${READER_EMAIL:-reviewer@demo.example}" | tail -n 1)
fi
for _ in $(seq 60); do
  STATUS=$(call GET "/images/$IMAGE" "$READ_TOKEN" | json status)
  case "$STATUS" in processed | failed) break ;; esac
  sleep 1
done
DETAIL=$(call GET "/images/$IMAGE" "$READ_TOKEN")
if [ "$STATUS" != processed ]; then
  echo "7. image $IMAGE: $STATUS (error: $(json error <<<"$DETAIL"))" >&2
  exit 1
fi
echo "7. image $IMAGE: $STATUS, $(json width <<<"$DETAIL")x$(json height <<<"$DETAIL") px," \
  "sharpness $(json qc sharpness status <<<"$DETAIL"), exposure $(json qc exposure status \
  <<<"$DETAIL")"
