# The two commands of the README.

.PHONY: test run-chat

# Every test: go vet, go test -race (fuzz seeds included) and the
# socket.io-client compatibility tests.
test:
	./scripts/test.sh
