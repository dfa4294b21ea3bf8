// Command legacy is a process plugin as the SDK built it before Bind: it
// serves Describe and Handle and answers Bind as unimplemented. It echoes
// events like faulty's "echo", for the runtime's tests that such a plugin
// still loads and works.
package main

import (
	"context"
	"encoding/json"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/hubd/hubd/sdk/process"
	pb "github.com/hubd/hubd/sdk/proto/hubd/v1"
)

type service struct {
	pb.UnimplementedPluginServer // Bind among others: Unimplemented
}

func (service) Describe(context.Context, *pb.Empty) (*pb.Description, error) {
	return &pb.Description{AbiVersion: pb.ABIVersion, Name: "legacy", Hooks: []string{"event"}}, nil
}

func (service) Handle(_ context.Context, in *pb.Envelope) (*pb.Decision, error) {
	var e struct {
		Args   json.RawMessage `json:"args"`
		Socket struct {
			ID string `json:"id"`
		} `json:"socket"`
	}
	if err := json.Unmarshal(in.EnvelopeJson, &e); err != nil {
		return nil, err
	}
	name, _ := json.Marshal("echo:" + e.Socket.ID)
	return &pb.Decision{DecisionJson: []byte(`{"event":` + string(name) + `,"args":` + string(e.Args) + `}`)}, nil
}

type plugin struct {
	goplugin.NetRPCUnsupportedPlugin
}

func (plugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterPluginServer(s, service{})
	return nil
}

func (plugin) GRPCClient(context.Context, *goplugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

func main() {
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: process.HandshakeConfig,
		Plugins:         goplugin.PluginSet{pb.PluginName: plugin{}},
		GRPCServer:      goplugin.DefaultGRPCServer,
	})
}
