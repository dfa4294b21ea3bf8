#!/bin/sh
# Regenerates the Go code of hubd's process-plugin gRPC contract.
#
# Needs protoc (Debian: apt-get install protobuf-compiler) and the two Go
# plugins, at the versions the generated files were made with:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
# (protoc-gen-go should match google.golang.org/protobuf in go.mod.)
set -eu
cd "$(dirname "$0")"
PATH="$(go env GOPATH)/bin:$PATH"
protoc -I . \
	--go_out=. --go_opt=paths=source_relative \
	--go-grpc_out=. --go-grpc_opt=paths=source_relative \
	hubd/v1/plugin.proto
