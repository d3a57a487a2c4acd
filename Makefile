# The temporal CLI version the end-to-end tests drive.
TEMPORAL_CLI := github.com/temporalio/cli/cmd/temporal@v1.5.1
GOBIN_DIR := $(shell go env GOPATH)/bin
# The kopia CLI the end-to-end tests read steward's repositories with. It
# builds only in a module of its own (go install refuses it).
KOPIA_VERSION := v0.22.3

.PHONY: test check kopia-cli
# test runs the whole suite: static checks, unit, workflow, replay and
# end-to-end tests (real embedded Temporal server, real kopia repositories,
# the real temporal CLI).
test: check kopia-cli
	go install $(TEMPORAL_CLI)
	PATH="$(GOBIN_DIR):$$PATH" go test -count=1 -timeout 45m ./...

check:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	go vet ./...
	go vet -tags nodev ./worker

kopia-cli:
	@if ! "$(GOBIN_DIR)/kopia" --version 2>/dev/null | grep -q "^$(KOPIA_VERSION) "; then \
		echo "building the kopia CLI $(KOPIA_VERSION) into $(GOBIN_DIR)"; \
		d=$$(mktemp -d) && cd "$$d" && go mod init kopiacli >/dev/null 2>&1 && \
		{ go get github.com/kopia/kopia@$(KOPIA_VERSION) >get.log 2>&1 || { cat get.log; exit 1; }; } && \
		go build -o "$(GOBIN_DIR)/kopia" github.com/kopia/kopia && cd / && rm -rf "$$d"; \
	fi
