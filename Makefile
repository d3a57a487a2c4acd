# The temporal CLI version the end-to-end tests drive.
TEMPORAL_CLI := github.com/temporalio/cli/cmd/temporal@v1.5.1
GOBIN_DIR := $(shell go env GOPATH)/bin

.PHONY: test check
# test runs the whole suite: static checks, unit, workflow, replay and
# end-to-end tests (real embedded Temporal server, real kopia repositories,
# the real temporal CLI).
test: check
	go install $(TEMPORAL_CLI)
	PATH="$(GOBIN_DIR):$$PATH" go test -count=1 -timeout 45m ./...

check:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	go vet ./...
