# The container image (server-image/Dockerfile): build, check, push. The tag is the Helm chart's
# default image reference (image.repository from values.yaml, appVersion from Chart.yaml), so
# `make image` produces exactly what `helm install` and the operator's --server-image default name.
#
#   make image                                     build ghcr.io/modelship/modelship:<appVersion>
#   make image-check                               run it as a restricted pod would; assert what it serves
#   make image-push REGISTRY=host[:port][/path] [TLS_VERIFY=false]
#
# Uses docker when `docker info` answers, else podman. The Dockerfile's base images are pulled, or,
# where their registries are unreachable, made locally under their upstream names (base-images/).
.PHONY: image image-base image-check image-push

IMAGE_REPOSITORY ?= ghcr.io/modelship/modelship
IMAGE_TAG ?= $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$$/\1/p' charts/modelship/Chart.yaml)
IMAGE := $(IMAGE_REPOSITORY):$(IMAGE_TAG)
# The project's Node release; the image's build and runtime stages use the same.
IMAGE_NODE_VERSION = $(or $(shell cat .node-version 2>/dev/null),$(error image: read .node-version: missing or empty))
IMAGE_NODE_MAJOR = $(firstword $(subst ., ,$(IMAGE_NODE_VERSION)))
BUILD_BASE_IMAGE = docker.io/library/node:$(IMAGE_NODE_VERSION)-trixie-slim
RUNTIME_BASE_IMAGE = gcr.io/distroless/nodejs$(IMAGE_NODE_MAJOR)-debian13:nonroot

IMAGE_ENGINE ?= $(shell docker info >/dev/null 2>&1 && echo docker || echo podman)
# podman reads these settings (runc, cgroupfs, ulimits the host allows) from here rather than
# from /etc/containers, which stays untouched; absolute, as podman's helper processes change
# directory. Only for these targets: other targets' podman use is theirs to configure.
image image-base image-check image-push: export CONTAINERS_CONF := $(CURDIR)/server-image/podman/containers.conf
# amd64 or arm64 (this machine's): which onnxruntime-node binary the image keeps. Passed to podman
# only: podman 4.3 does not set TARGETARCH, while docker (BuildKit) sets it from --platform.
IMAGE_ARCH ?= $(shell uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')

# Extra CA certificates for a TLS-intercepting proxy in front of the npm registry, handed to the
# build's `npm install` as a secret (never stored in a layer).
IMAGE_CA_SECRET = $(if $(NODE_EXTRA_CA_CERTS),--secret id=npm-ca$(comma)src=$(NODE_EXTRA_CA_CERTS))
comma := ,
IMAGE_BUILD_FLAGS_podman = --pull=never --ignorefile server-image/Dockerfile.dockerignore --build-arg TARGETARCH=$(IMAGE_ARCH)
IMAGE_BUILD_FLAGS_docker =

image-base: ## make sure the Dockerfile's base images are here (pulled, or made locally where unreachable)
	@server-image/image-tools.sh $(IMAGE_ENGINE)
	@ENGINE=$(IMAGE_ENGINE) server-image/base-images/ensure.sh $(BUILD_BASE_IMAGE) node-slim.sh $(IMAGE_NODE_VERSION)
	@ENGINE=$(IMAGE_ENGINE) server-image/base-images/ensure.sh $(RUNTIME_BASE_IMAGE) distroless-nodejs.sh $(IMAGE_NODE_VERSION)

# The tag exists only once the build succeeded; the contents check then fails the target if test
# code, a shell or another Node release got in.
image: image-base ## build the image, tagged as the Helm chart's default (ghcr.io/modelship/modelship:<appVersion>)
	$(IMAGE_ENGINE) build $(IMAGE_BUILD_FLAGS_$(IMAGE_ENGINE)) $(IMAGE_CA_SECRET) \
	  --build-arg NODE_VERSION=$(IMAGE_NODE_VERSION) --build-arg RUNTIME_IMAGE=$(RUNTIME_BASE_IMAGE) \
	  --label org.opencontainers.image.version=$(IMAGE_TAG) \
	  -f server-image/Dockerfile -t $(IMAGE) .
	@ENGINE=$(IMAGE_ENGINE) server-image/image-contents-check.sh $(IMAGE) $(IMAGE_NODE_VERSION)
	@echo "image $(IMAGE): $$($(IMAGE_ENGINE) image inspect -f '{{.Size}}' $(IMAGE) | awk '{ printf "%.0f MB", $$1 / 1e6 }')"

image-check: image ## run the image as a restricted pod would: no shell, no test code; server, router and operator work
	ENGINE=$(IMAGE_ENGINE) server-image/image-check.sh $(IMAGE) $(IMAGE_NODE_VERSION)

TLS_VERIFY ?= true
image-push: image ## push to REGISTRY=host[:port][/path] as <REGISTRY>/modelship:<tag> (TLS_VERIFY=false for a plain-HTTP registry)
	@test -n "$(REGISTRY)" || { echo "image-push: set REGISTRY=host[:port][/path]" >&2; exit 2; }
	$(IMAGE_ENGINE) tag $(IMAGE) $(REGISTRY)/modelship:$(IMAGE_TAG)
	$(IMAGE_ENGINE) push $(if $(filter podman,$(IMAGE_ENGINE)),--tls-verify=$(TLS_VERIFY)) $(REGISTRY)/modelship:$(IMAGE_TAG)
	@echo "helm install modelship charts/modelship --set image.repository=$(REGISTRY)/modelship --set image.tag=$(IMAGE_TAG)"
