# The two commands of the README.

.PHONY: test run-chat

# hubd with the chat example at http://127.0.0.1:3000/ (open it in two
# tabs); the page's socket.io-client bundle comes from npm.
run-chat:
	cd examples/chat && npm ci --no-audit --no-fund --loglevel=error
	go run ./cmd/hubd -config examples/chat/hubd.json

# Every test: go vet, go test -race (fuzz seeds included) and the
# socket.io-client compatibility tests.
test:
	./scripts/test.sh
