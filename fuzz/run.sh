#!/bin/sh
# Runs the fuzz targets one after another (never in parallel), FUZZ_SECONDS each
# (default 30), each from its saved corpus plus the checked-in seeds and dictionary.
# Usage: fuzz/run.sh [target...]    (all targets when none is named)
set -u
cd "$(dirname "$0")"
secs="${FUZZ_SECONDS:-30}"
targets="${*:-oauth2_request token_parse scope redirect_uri pkce client_auth bearer user_code client_metadata registration metadata_document authorization_params jws_verify jwks_pick}"
failed=""
for t in $targets; do
    mkdir -p "corpus/$t"
    seeds=""
    [ -d "seeds/$t" ] && seeds="seeds/$t"
    case "$t" in
        redirect_uri) dict="-dict=dict/redirect_uri.dict" ;;
        oauth2_request | client_auth | bearer) dict="-dict=dict/oauth.dict" ;;
        client_metadata | registration | metadata_document) dict="-dict=dict/client_metadata.dict" ;;
        authorization_params) dict="-dict=dict/authorization.dict" ;;
        jws_verify) dict="-dict=dict/jws.dict" ;;
        *) dict="" ;;
    esac
    # shellcheck disable=SC2086 # $seeds and $dict are empty or one word
    cargo +nightly fuzz run "$t" "corpus/$t" $seeds -- -max_total_time="$secs" $dict ||
        failed="$failed $t"
done
if [ -n "$failed" ]; then
    echo "failed:$failed (crash inputs, if any, are in fuzz/artifacts/)" >&2
    exit 1
fi
