#!/usr/bin/env bash
# Runs once on the appliance: a Docker engine that students reach over SSH.
set -euo pipefail
command -v docker >/dev/null || { apt-get update -q && apt-get install -yq docker.io; }
getent group docker >/dev/null || groupadd docker
