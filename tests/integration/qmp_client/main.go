// qmp_client: a third-party QMP client (DigitalOcean's go-qemu, built for
// QEMU, from Debian's golang-github-digitalocean-go-qemu-dev) driving a VMM
// through its QMP socket, as test_qmp_client.py uses it against Wren:
//
//	qmp_client -socket PATH [-mac MAC] [-powerdown=true|false]
//
// It connects and negotiates, checks query-status, query-rx-filter and
// query-commands through go-qemu's generated QAPI types (strict about enum
// values), stops and continues the guest and waits for the STOP and RESUME
// events, then (with -powerdown) sends system_powerdown and waits for the
// POWERDOWN and SHUTDOWN events and for the VMM to close the socket.
// Every result is one "QMP-CLIENT: PASS|FAIL ..." line; the exit status is
// 0 only when all passed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
	"github.com/digitalocean/go-qemu/qmp/raw"
)

var failed = 0

func check(name string, ok bool, detail string) {
	if ok {
		fmt.Printf("QMP-CLIENT: PASS %s\n", name)
		return
	}
	failed++
	fmt.Printf("QMP-CLIENT: FAIL %s: %s\n", name, detail)
}

// waitEvent returns the first event named `name` within `limit`, or nil.
func waitEvent(events <-chan qmp.Event, name string, limit time.Duration) *qmp.Event {
	deadline := time.After(limit)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				return nil
			}
			if e.Event == name {
				return &e
			}
		case <-deadline:
			return nil
		}
	}
}

func main() {
	socket := flag.String("socket", "", "QMP unix socket")
	mac := flag.String("mac", "", "expected main-mac of the first NIC (empty: not checked)")
	powerdown := flag.Bool("powerdown", true, "end with system_powerdown and wait for the guest's shutdown")
	timeout := flag.Duration("shutdown-timeout", 10*time.Minute, "how long the guest may take to power off")
	flag.Parse()

	mon, err := qmp.NewSocketMonitor("unix", *socket, 10*time.Second)
	if err != nil {
		fmt.Printf("QMP-CLIENT: FAIL connect: %v\n", err)
		os.Exit(1)
	}
	if err := mon.Connect(); err != nil {
		fmt.Printf("QMP-CLIENT: FAIL greeting and qmp_capabilities: %v\n", err)
		os.Exit(1)
	}
	check("greeting and capabilities negotiation", true, "")
	fmt.Printf("QMP-CLIENT: server version %d.%d.%d package %q\n", mon.Version.QEMU.Major, mon.Version.QEMU.Minor,
		mon.Version.QEMU.Micro, mon.Version.Package)

	// go-qemu's listener blocks until someone takes each event: forward them
	// all into a buffered channel.
	stream, err := mon.Events(context.Background())
	if err != nil {
		fmt.Printf("QMP-CLIENT: FAIL events: %v\n", err)
		os.Exit(1)
	}
	events := make(chan qmp.Event, 1024)
	go func() {
		for e := range stream {
			fmt.Printf("QMP-CLIENT: event %s %v\n", e.Event, e.Data)
			events <- e
		}
		close(events)
	}()

	m := raw.NewMonitor(mon)

	st, err := m.QueryStatus()
	check("query-status: running", err == nil && st.Running && st.Status == raw.RunStateRunning,
		fmt.Sprintf("%+v %v", st, err))

	cmds, err := m.QueryCommands()
	names := map[string]bool{}
	for _, c := range cmds {
		names[c.Name] = true
	}
	missing := []string{}
	for _, want := range []string{"qmp_capabilities", "query-commands", "query-version", "query-status", "stop", "cont",
		"system_powerdown", "system_reset", "quit", "query-rx-filter", "migrate", "query-migrate", "migrate_cancel"} {
		if !names[want] {
			missing = append(missing, want)
		}
	}
	check("query-commands lists QEMU's commands", err == nil && len(missing) == 0,
		fmt.Sprintf("missing %v, error %v", missing, err))

	ver, err := m.QueryVersion()
	check("query-version", err == nil && ver.Package != "", fmt.Sprintf("%+v %v", ver, err))

	filters, err := m.QueryRxFilter(nil)
	ok := err == nil && len(filters) >= 1
	detail := fmt.Sprintf("%+v %v", filters, err)
	if ok {
		f := filters[0]
		fmt.Printf("QMP-CLIENT: rx-filter %s main-mac %s promiscuous %v unicast %s multicast %s vlan %s multicast-table %v\n",
			f.Name, f.MainMac, f.Promiscuous, f.Unicast, f.Multicast, f.Vlan, f.MulticastTable)
		ok = *mac == "" || strings.EqualFold(f.MainMac, *mac)
	}
	check("query-rx-filter in QEMU's RxFilterInfo shape", ok, detail)
	if len(filters) >= 1 {
		name := filters[0].Name
		one, err := m.QueryRxFilter(&name)
		check("query-rx-filter by name", err == nil && len(one) == 1 && one[0].Name == name,
			fmt.Sprintf("%+v %v", one, err))
	}
	bogus := "no-such-nic"
	_, err = m.QueryRxFilter(&bogus)
	check("query-rx-filter of an unknown NIC is an error", err != nil, "no error")

	err = m.Stop()
	check("stop", err == nil, fmt.Sprint(err))
	check("STOP event", waitEvent(events, "STOP", 30*time.Second) != nil, "none within 30 s")
	st, err = m.QueryStatus()
	check("query-status: paused", err == nil && !st.Running && st.Status == raw.RunStatePaused,
		fmt.Sprintf("%+v %v", st, err))

	err = m.Cont()
	check("cont", err == nil, fmt.Sprint(err))
	check("RESUME event", waitEvent(events, "RESUME", 30*time.Second) != nil, "none within 30 s")
	st, err = m.QueryStatus()
	check("query-status: running again", err == nil && st.Running && st.Status == raw.RunStateRunning,
		fmt.Sprintf("%+v %v", st, err))

	if *powerdown {
		err = m.SystemPowerdown()
		check("system_powerdown", err == nil, fmt.Sprint(err))
		check("POWERDOWN event", waitEvent(events, "POWERDOWN", 30*time.Second) != nil, "none within 30 s")
		e := waitEvent(events, "SHUTDOWN", *timeout)
		check("SHUTDOWN event from the guest", e != nil && e.Data["guest"] == true,
			fmt.Sprintf("%+v", e))
		// The VMM exits: the stream ends.
		closed := false
		deadline := time.After(60 * time.Second)
	drain:
		for {
			select {
			case _, more := <-events:
				if !more {
					closed = true
					break drain
				}
			case <-deadline:
				break drain
			}
		}
		check("the VMM closed the socket", closed, "still open after 60 s")
	} else {
		mon.Disconnect()
	}
	if failed > 0 {
		fmt.Printf("QMP-CLIENT: %d failed\n", failed)
		os.Exit(1)
	}
	fmt.Println("QMP-CLIENT: all passed")
}
