# Thin wrappers: the npm scripts in package.json are the source of truth for build, test, lint,
# bench and start; this file adds the image and the chart.
#
#   make build | test | lint | bench | start | clean
#   make image        IMAGE=ghcr.io/pullguard/pullguard TAG=0.1.0
#   make chart-lint   helm lint + helm template of charts/pullguard (skipped without helm)
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

# Renders the chart once per TLS mode and with every optional part on, so each template branch is
# parsed; --api-versions stands in for a cluster that has cert-manager and prometheus-operator.
chart-lint:
	@command -v $(HELM) >/dev/null 2>&1 || { \
	  echo "make chart-lint: skipped, helm is not installed (install Helm 3.8+ to lint the chart)."; \
	  exit 0; }; \
	set -e; \
	$(HELM) lint --strict $(CHART); \
	$(HELM) template $(RELEASE) $(CHART) -n $(NAMESPACE) --api-versions cert-manager.io/v1 >/dev/null; \
	$(HELM) template $(RELEASE) $(CHART) -n $(NAMESPACE) --set tls.mode=helm >/dev/null; \
	$(HELM) template $(RELEASE) $(CHART) -n $(NAMESPACE) --set tls.mode=secret \
	  --set tls.secret.name=pullguard-tls --set tls.secret.caBundle=Q0E= >/dev/null; \
	$(HELM) template $(RELEASE) $(CHART) -n $(NAMESPACE) --api-versions monitoring.coreos.com/v1 \
	  --set metrics.serviceMonitor.enabled=true --set criticalPriorityQuota.enabled=true \
	  --set hostNetwork=true --set 'settings.alwaysPullExempt={registry.k8s.io/pause}' >/dev/null; \
	echo "make chart-lint: ok"

# deploy/pullguard.yaml is the chart's default rendering with cert-manager TLS.
manifests:
	@command -v $(HELM) >/dev/null 2>&1 || { \
	  echo "make manifests: helm is not installed; deploy/pullguard.yaml was not regenerated." >&2; \
	  exit 1; }
	{ sed -n '/^# /p;/^---$$/q' deploy/pullguard.yaml | sed '/^---$$/d'; \
	  $(HELM) template $(RELEASE) $(CHART) -n $(NAMESPACE) --api-versions cert-manager.io/v1; \
	} > deploy/pullguard.yaml.tmp
	mv deploy/pullguard.yaml.tmp deploy/pullguard.yaml
	$(NPM) exec -- tap test/deploy/manifests.test.ts
