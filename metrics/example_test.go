package metrics_test

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/metrics"
	"github.com/tcptable/tcptable/providers/mock"
)

// The collector registered in a registry, as an exporter would; here over
// the mock provider, so the output is fixed.
func ExampleNewCollector() {
	p := mock.New(
		tcptable.Connection{State: tcptable.StateListen, Local: netip.MustParseAddrPort("0.0.0.0:8080"),
			PID: 4242, Module: tcptable.Module{Name: "nginx"}},
		tcptable.Connection{State: tcptable.StateEstablished, Local: netip.MustParseAddrPort("127.0.0.1:8080"),
			Remote: netip.MustParseAddrPort("127.0.0.1:50000"), PID: 4242, Module: tcptable.Module{Name: "nginx"}},
		tcptable.Connection{State: tcptable.StateTimeWait, Local: netip.MustParseAddrPort("127.0.0.1:50001"),
			Remote: netip.MustParseAddrPort("127.0.0.1:8080"), OwnerStatus: tcptable.OwnerKernel},
	)
	defer p.Close()
	c := metrics.NewCollector(p, metrics.WithTopProcesses(5))
	defer c.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		fmt.Println(err)
		return
	}
	enc := expfmt.NewEncoder(os.Stdout, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		switch mf.GetName() {
		case "tcptable_connections", "tcptable_process_connections", "tcptable_listener_info":
			mf.Help = nil // shorter output
			if err := enc.Encode(mf); err != nil {
				fmt.Println(err)
			}
		}
	}
	// Output:
	// # TYPE tcptable_connections gauge
	// tcptable_connections{family="ipv4",state="established"} 1
	// tcptable_connections{family="ipv4",state="listen"} 1
	// tcptable_connections{family="ipv4",state="time_wait"} 1
	// # TYPE tcptable_listener_info gauge
	// tcptable_listener_info{address="0.0.0.0",port="8080",process="nginx"} 1
	// # TYPE tcptable_process_connections gauge
	// tcptable_process_connections{process="[kernel]",state="time_wait"} 1
	// tcptable_process_connections{process="nginx",state="established"} 1
	// tcptable_process_connections{process="nginx",state="listen"} 1
}
