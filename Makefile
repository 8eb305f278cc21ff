# Thin wrappers: the npm scripts in package.json are the source of truth for build, test, lint,
# bench and start; this file adds the image and the chart.
#
#   make build | test | lint | bench | start | clean
#   make image        IMAGE=ghcr.io/pullguard/pullguard TAG=0.1.0
#   make chart-lint   helm lint + helm template of charts/pullguard per ci/ values file (skipped without helm)
#   make manifests    regenerate deploy/pullguard.yaml from the chart (needs helm)

NPM ?= npm
DOCKER ?= docker
HELM ?= helm

CHART := charts/pullguard
RELEASE := pullguard
NAMESPACE := pullguard-system
VERSION := $(shell sed -n 's/^  "version": "\(.*\)",/\1/p' package.json | head -n 1)
IMAGE ?= pullguard
TAG ?= $(VERSION)

.PHONY: build test lint bench start clean image chart-lint manifests

build:
	$(NPM) run build

test:
	$(NPM) test

lint:
	$(NPM) run lint

bench:
	$(NPM) run bench

start:
	$(NPM) start

clean:
	$(NPM) run clean

image:
	@$(DOCKER) info >/dev/null 2>&1 || { \
	  echo "make image: no Docker engine is reachable ('$(DOCKER) info' failed)." >&2; \
	  echo "Build on a machine with a running engine: $(DOCKER) build -t $(IMAGE):$(TAG) ." >&2; \
	  exit 1; }
	$(DOCKER) build --build-arg VERSION=$(TAG) -t $(IMAGE):$(TAG) .

# helm lint --strict and helm template of the chart with every values file in charts/pullguard/ci
# (one per combination the templates branch on, as chart-testing expects them); --api-versions
# stands in for a cluster that has cert-manager and prometheus-operator. The tests run the same
# with a pinned helm (test/deploy/support/helm.ts); this is for checking with your own helm.
chart-lint:
	@command -v $(HELM) >/dev/null 2>&1 || { \
	  echo "make chart-lint: skipped, helm is not installed (install Helm 3.8+ to lint the chart)."; \
	  exit 0; }; \
	set -e; \
	for values in $(CHART)/ci/*-values.yaml; do \
	  $(HELM) lint --strict $(CHART) -n $(NAMESPACE) -f $$values >/dev/null; \
	  $(HELM) template $(RELEASE) $(CHART) -n $(NAMESPACE) -f $$values \
	    --api-versions cert-manager.io/v1 --api-versions monitoring.coreos.com/v1 >/dev/null; \
	  echo "make chart-lint: $$values ok"; \
	done

# deploy/pullguard.yaml is the chart's rendering with cert-manager TLS, without Helm's hooks and
# tests (kubectl apply would run them at once); test/deploy checks it is up to date.
manifests:
	@command -v $(HELM) >/dev/null 2>&1 || { \
	  echo "make manifests: helm is not installed; deploy/pullguard.yaml was not regenerated." >&2; \
	  exit 1; }
	{ sed -n '/^# /p;/^---$$/q' deploy/pullguard.yaml | sed '/^---$$/d'; \
	  $(HELM) template $(RELEASE) $(CHART) -n $(NAMESPACE) -f $(CHART)/ci/cert-manager-values.yaml --no-hooks; \
	} > deploy/pullguard.yaml.tmp
	mv deploy/pullguard.yaml.tmp deploy/pullguard.yaml
	$(NPM) exec -- tap test/deploy/manifests.test.ts
