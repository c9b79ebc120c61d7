#!/bin/sh
# Test stand-in for the app's bin/update.sh.
echo "{\"stub\": \"update.sh\", \"args\": \"$*\", \"via\": \"${SM_VIA:-cron}\", \"uid\": $(id -u)}"
