package devserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
)

// startUI starts the Web UI and waits until its port accepts connections.
// The returned channel yields ui.Start's result once it has returned.
//
// ui-server's Start blocks, and on a listen error it calls echo's
// Logger.Fatal, which exits the process. Start has already checked the port,
// and it is checked again here right before, which leaves only a tiny window
// for another process to take it.
func startUI(ctx context.Context, o *Options) (*uiserver.Server, <-chan error, error) {
	addr := hostPort(o.connectIP(), o.UIPort)
	// ui-server joins Host and Port with "%s:%d".
	uiHost := o.IP
	if strings.Contains(uiHost, ":") {
		uiHost = "[" + uiHost + "]"
	}
	cfg := &uiconfig.Config{
		TemporalGRPCAddress: hostPort(o.connectIP(), o.Port),
		Host:                uiHost,
		Port:                o.UIPort,
		EnableUI:            true,
		DefaultNamespace:    o.Namespace,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		HideLogs:            true,
		// Server 1.32's native workflow pause would be confused with
		// steward's `pause` signal.
		WorkflowPauseDisabled: true,
	}

	var ui *uiserver.Server
	if err := callSafely("create Temporal Web UI", func() error {
		ui = uiserver.NewServer(uiserveroptions.WithConfigProvider(cfg))
		return nil
	}); err != nil {
		return nil, nil, err
	}

	if err := checkPortFree(o.IP, o.UIPort, "Temporal Web UI"); err != nil {
		return nil, nil, err
	}
	done := make(chan error, 1)
	go func() {
		done <- callSafely("Temporal Web UI", ui.Start)
		close(done)
	}()

	var d net.Dialer
	for {
		dialCtx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := d.DialContext(dialCtx, "tcp", addr)
		cancel()
		if err == nil {
			_ = conn.Close()
			return ui, done, nil
		}
		select {
		case err := <-done:
			if err == nil {
				err = errors.New("stopped before serving")
			}
			return nil, nil, fmt.Errorf("temporal Web UI on %s: %w", addr, err)
		case <-ctx.Done():
			ui.Stop()
			<-done
			return nil, nil, fmt.Errorf("temporal Web UI on %s did not start: %w", addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
