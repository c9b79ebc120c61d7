#!/bin/sh
# Test stand-in for the app's bin/update.sh. It accepts exactly the options in
# the case below, each one the real script's own (tests/unit/app_contract/
# test_stub_contract.py checks them against the app's source), and exits 2 on
# anything else.
for arg in "$@"; do
    case $arg in
        --rollback|--auto-env) ;;
        *)
            echo "usage: bin/update.sh [--rollback] [--auto-env]" >&2
            echo "bin/update.sh: unknown option: $arg" >&2
            exit 2
            ;;
    esac
done
echo "{\"stub\": \"update.sh\", \"args\": \"$*\", \"via\": \"${SM_VIA:-cron}\", \"uid\": $(id -u)}"
