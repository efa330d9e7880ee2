# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_vepa_global_optspecs
    string join \n socket= url= token-file= j/json h/help V/version
end

function __fish_vepa_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_vepa_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_vepa_using_subcommand
    set -l cmd (__fish_vepa_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c vepa -n "__fish_vepa_needs_command" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_needs_command" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_needs_command" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_needs_command" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_needs_command" -s V -l version -d 'Print version'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "demo" -d 'Watch the modes at work in throw-away namespaces (needs root)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "run" -d 'Run a topology file in the foreground (needs root)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "graph" -d 'Draw the fabric: switches, ports, routers, and what lies beyond'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "validate" -d 'Check a topology file without touching the host'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "daemon" -d 'Run the switch as a service with durable state and an API (needs root)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "doctor" -d 'What this kernel can do, tried in a scratch namespace, and what vepa uses instead (needs root)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "nic" -d 'Physical NICs: embedded bridge mode (VEB/VEPA) and SR-IOV virtual functions (needs root)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "switch" -d 'Add, remove, change or list switches (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "port" -d 'Add, remove, change or list ports (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "fdb" -d 'Show, add, remove or flush FDB entries (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "mdb" -d 'Show IGMP/MLD snooping\'s groups and router ports (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "flow" -d 'Add, change, remove or list flows, in ovs-ofctl\'s syntax (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "group" -d 'Add, change, remove or list OpenFlow groups (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "router" -d 'Add, remove or show routers and their ports; neighbors and counters (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "route" -d 'Add, remove or show a router\'s static routes (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "tunnel" -d 'VXLAN tunnels: endpoints, learned remote MACs, drops (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "lldp" -d 'LLDP neighbours of uplinks and relay ports, with their EVB TLV (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "log" -d 'The daemon\'s log filter: show it, or change it without a restart (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "relay" -d 'Whether the adjacent bridge reflects frames back (reflective relay probe) (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "vdp" -d 'VMs associated with the adjacent bridge over 802.1Qbg\'s VDP, per uplink and relay port (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "hosts" -d 'Hosts of the multi-host fabric, as etcd lists them (daemon with --etcd)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "vm-args" -d 'QEMU arguments that plug a guest into a VM\'s port (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "libvirt-xml" -d 'The libvirt <interface> element for a VM\'s port (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "acl" -d 'Add, remove or show access lists on switch ports and routers (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "conntrack" -d 'Show or flush the connections stateful ACLs track (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "stats" -d 'Per-port counters, drops by reason, FDB sizes (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "apply" -d 'Make the daemon\'s state equal to a topology file, whole or not at all'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "export" -d 'Print the daemon\'s state as a topology file (`apply` of it is an empty plan)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "capture" -d 'Write the frames ports send and receive as pcapng (tcpdump -r, tshark -r)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "trace" -d 'What forwarding would do with a frame, stage by stage, without sending it'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "top" -d 'A live view: per-port rates, drops by reason, FDB sizes, each worker\'s load and cache hits (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "mirror" -d 'Port mirrors: SPAN to a monitor port, RSPAN to a VLAN on the uplink (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "ipfix" -d 'IPFIX flow export: a record per IP flow to a collector (daemon)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "man" -d 'Write vepa\'s man pages (vepa.1 and one per subcommand) into a directory'
complete -c vepa -n "__fish_vepa_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand demo" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand demo" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand demo" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand demo" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand demo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand run" -s f -l file -d 'Topology file (TOML); see examples/ and the README' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand run" -l stats-json -d 'On exit, also write the final per-port counters as JSON here' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand run" -l workers -d 'Forwarding threads (default: one per core). Each owns the receive side of every N-th port; any of them sends on any port' -r
complete -c vepa -n "__fish_vepa_using_subcommand run" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand run" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand run" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand run" -l busy-poll -d 'Workers never sleep: lowest latency, one busy core per worker even with no traffic (like Open vSwitch\'s PMD threads)'
complete -c vepa -n "__fish_vepa_using_subcommand run" -l xdp -d 'Interface ports (veth, netdev, patch veths) receive and send through AF_XDP: an XDP program on the device hands frames to vepa\'s mapped rings. A port where XDP cannot attach natively (or with several receive queues) stays on AF_PACKET, with a warning; `vepa doctor` says whether this kernel can'
complete -c vepa -n "__fish_vepa_using_subcommand run" -l rx-ring -d 'Experimental: AF_PACKET ports receive through a TPACKET_V3 ring (see bench/RESULTS.md)'
complete -c vepa -n "__fish_vepa_using_subcommand run" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand graph" -s f -l file -d 'A topology file to draw instead of the daemon\'s state' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand graph" -s o -l output -d 'dot (default), svg or json (-j is json too)' -r -f -a "dot\t'Graphviz DOT (`| dot -Tpng > fabric.png`)'
svg\t'SVG, drawn by Graphviz\'s `dot` (Debian: graphviz)'
json\t'The graph\'s model, for other tools'"
complete -c vepa -n "__fish_vepa_using_subcommand graph" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand graph" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand graph" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand graph" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand graph" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand validate" -s f -l file -d 'Topology file (TOML)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand validate" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand validate" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand validate" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand validate" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand validate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l state-dir -d 'Where the desired state is kept' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l group -d 'Group allowed to use the API socket (mode 0660) and the switches\' OpenFlow management sockets; default root only. Without --vhost-group, it may also connect guests to vhost-user sockets' -r
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l vhost-group -d 'Group allowed to connect a guest to a vhost-user port\'s socket, and nothing else: add QEMU\'s user (e.g. libvirt-qemu) to it, not to --group, which steers the whole daemon' -r
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l vhost-user-dir -d 'The one directory vhost-user sockets are made in (a port\'s `socket` must be under it; default SWITCH/PORT.sock there)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l listen -d 'Also serve the API on this loopback TCP address (needs --token-file)' -r
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l metrics-listen -d 'Serve /metrics alone (read-only, no token) on this TCP address, e.g. 0.0.0.0:9464 for a Prometheus on another host. Metrics name switches and ports: firewall it as you would any exporter' -r
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l workers -d 'Forwarding threads (default: one per core)' -r
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l openflow-private-key -d 'This daemon\'s private key (PEM) for OpenFlow over TLS' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l openflow-certificate -d 'This daemon\'s certificate (PEM) for OpenFlow over TLS' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l openflow-ca-cert -d 'The CA (PEM) OpenFlow peers\' certificates must be signed by: clients of pssl: listeners and the controllers ssl: dials' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l etcd -d 'etcd endpoint(s) of the multi-host control plane, e.g. http://10.0.0.9:2379 (repeat or separate with commas). This host\'s VTEP, VNIs and VM MACs are published there; fabric ports (`fabric = true`) reach the other hosts it lists' -r
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l host-id -d 'This host\'s name in the store (default: the hostname)' -r
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l underlay-ip -d 'This host\'s address on the underlay: its VTEP for fabric ports without `local`' -r
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l etcd-prefix -d 'Key prefix the hosts of one fabric share' -r
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l etcd-lease-ttl -d 'Seconds a host\'s entries outlive it (its etcd lease)' -r
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l etcd-cacert -d 'CA (PEM) etcd\'s certificate must be signed by (https:// endpoints)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l etcd-cert -d 'This host\'s client certificate (PEM) for etcd\'s --client-cert-auth' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l etcd-key -d 'The private key (PEM) of --etcd-cert' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l etcd-user -d 'This host\'s etcd user (RBAC: it may write only its own key; see the README\'s etcd layout)' -r
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l etcd-password-file -d 'A file holding --etcd-user\'s password (not on the command line, where every local user could read it)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l busy-poll -d 'Workers never sleep: lowest latency, one busy core per worker even with no traffic (like Open vSwitch\'s PMD threads)'
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l xdp -d 'Interface ports (veth, netdev, patch veths) receive and send through AF_XDP: an XDP program on the device hands frames to vepa\'s mapped rings. A port where XDP cannot attach natively (or with several receive queues) stays on AF_PACKET, with a warning; `vepa doctor` says whether this kernel can'
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -l default -d 'On an empty store, start with the embedded default topology (examples/daemon-default.toml: switch vepa0, two VMs in namespaces)'
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand daemon" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand doctor" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand doctor" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand doctor" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand doctor" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand doctor" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and not __fish_seen_subcommand_from show set vf sriov help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand nic; and not __fish_seen_subcommand_from show set vf sriov help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand nic; and not __fish_seen_subcommand_from show set vf sriov help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand nic; and not __fish_seen_subcommand_from show set vf sriov help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and not __fish_seen_subcommand_from show set vf sriov help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and not __fish_seen_subcommand_from show set vf sriov help" -f -a "show" -d 'Physical NICs (or one device): driver, SR-IOV VFs, embedded bridge mode'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and not __fish_seen_subcommand_from show set vf sriov help" -f -a "set" -d 'Set a NIC\'s embedded bridge mode: `vepa nic set DEV hwmode vepa|veb`'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and not __fish_seen_subcommand_from show set vf sriov help" -f -a "vf" -d 'Change one virtual function: MAC, VLAN, spoof check, trust, link state'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and not __fish_seen_subcommand_from show set vf sriov help" -f -a "sriov" -d 'Set how many VFs a NIC has: `vepa nic sriov DEV numvfs N`'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and not __fish_seen_subcommand_from show set vf sriov help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from show" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from show" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from show" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from set" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from set" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from set" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from set" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from vf" -l mac -d 'The VF\'s MAC address' -r
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from vf" -l vlan -d 'VLAN the VF\'s frames are tagged with (0: none)' -r
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from vf" -l qos -d '802.1p priority with --vlan' -r
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from vf" -l spoofchk -d 'Drop frames the VF sends from another MAC' -r -f -a "on\t''
off\t''"
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from vf" -l trust -d 'Let the VF change its MAC and go promiscuous' -r -f -a "on\t''
off\t''"
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from vf" -l state -d 'The VF\'s link: auto (follows the PF), enable, disable' -r -f -a "auto\t''
enable\t''
disable\t''"
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from vf" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from vf" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from vf" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from vf" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from vf" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from sriov" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from sriov" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from sriov" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from sriov" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from sriov" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from help" -f -a "show" -d 'Physical NICs (or one device): driver, SR-IOV VFs, embedded bridge mode'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from help" -f -a "set" -d 'Set a NIC\'s embedded bridge mode: `vepa nic set DEV hwmode vepa|veb`'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from help" -f -a "vf" -d 'Change one virtual function: MAC, VLAN, spoof check, trust, link state'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from help" -f -a "sriov" -d 'Set how many VFs a NIC has: `vepa nic sriov DEV numvfs N`'
complete -c vepa -n "__fish_vepa_using_subcommand nic; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and not __fish_seen_subcommand_from add del set show help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand switch; and not __fish_seen_subcommand_from add del set show help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand switch; and not __fish_seen_subcommand_from add del set show help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand switch; and not __fish_seen_subcommand_from add del set show help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and not __fish_seen_subcommand_from add del set show help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and not __fish_seen_subcommand_from add del set show help" -f -a "add" -d 'Add a switch (no ports yet)'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and not __fish_seen_subcommand_from add del set show help" -f -a "del" -d 'Remove a switch and every port on it'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and not __fish_seen_subcommand_from add del set show help" -f -a "set" -d 'Change a switch\'s default mode, ageing time or 802.1Qbg settings, at run time'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and not __fish_seen_subcommand_from add del set show help" -f -a "show" -d 'List switches (or one)'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and not __fish_seen_subcommand_from add del set show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from add" -l mode -d 'Mode of the ports that do not set their own (an ipvlan switch\'s flag: bridge, private or vepa)' -r -f -a "veb\t'Local switching between the switch\'s ports (kernel: bridge)'
vepa\t'Every frame to the uplink; VM to VM only if the adjacent bridge reflects it'
private\t'To the uplink only, never to another local VM'
passthru\t'One VM owns the uplink'
source\t'Copies of frames from the MACs on the port\'s allow list'"
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from add" -l ageing-secs -d 'FDB ageing time (default 300)' -r
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from add" -l kind -d 'macvlan (default: ports have MACs of their own, learned) or ipvlan (ports share the uplink\'s MAC and are told apart by their addresses, for a network that accepts one MAC per port)' -r -f -a "macvlan\t''
ipvlan\t''"
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from add" -l ipvlan-mode -d 'An ipvlan switch\'s mode: l2 (default; ports see broadcast and multicast), l3 (none; unicast by address) or l3s (as l3; the ports\' access lists filter, where the kernel runs netfilter)' -r -f -a "l2\t''
l3\t''
l3s\t''"
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from add" -l lldp -d 'LLDP (with 802.1Qbg\'s EVB TLV) on the uplink and relay ports (default on)' -r -f -a "on\t''
off\t''"
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from add" -l relay-required -d 'When the adjacent bridge does not reflect frames (EVB refuses relay, or the probe does not come back): warn (log and show it; default), fallback-veb (switch frames between vepa ports locally until it does), ignore' -r -f -a "warn\t''
fallback-veb\t''
ignore\t''"
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from add" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from add" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from add" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from add" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from del" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from del" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from del" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from del" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from del" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from set" -l mode -d 'The mode of the ports that do not set their own' -r -f -a "veb\t'Local switching between the switch\'s ports (kernel: bridge)'
vepa\t'Every frame to the uplink; VM to VM only if the adjacent bridge reflects it'
private\t'To the uplink only, never to another local VM'
passthru\t'One VM owns the uplink'
source\t'Copies of frames from the MACs on the port\'s allow list'"
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from set" -l ageing-secs -d 'FDB ageing time in seconds' -r
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from set" -l lldp -d 'LLDP (with 802.1Qbg\'s EVB TLV) on the uplink and relay ports (default on)' -r -f -a "on\t''
off\t''"
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from set" -l relay-required -d 'When the adjacent bridge does not reflect frames (EVB refuses relay, or the probe does not come back): warn (log and show it; default), fallback-veb (switch frames between vepa ports locally until it does), ignore' -r -f -a "warn\t''
fallback-veb\t''
ignore\t''"
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from set" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from set" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from set" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from set" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from show" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from show" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from show" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a switch (no ports yet)'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from help" -f -a "del" -d 'Remove a switch and every port on it'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from help" -f -a "set" -d 'Change a switch\'s default mode, ageing time or 802.1Qbg settings, at run time'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from help" -f -a "show" -d 'List switches (or one)'
complete -c vepa -n "__fish_vepa_using_subcommand switch; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand port; and not __fish_seen_subcommand_from add del set show help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand port; and not __fish_seen_subcommand_from add del set show help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and not __fish_seen_subcommand_from add del set show help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand port; and not __fish_seen_subcommand_from add del set show help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand port; and not __fish_seen_subcommand_from add del set show help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand port; and not __fish_seen_subcommand_from add del set show help" -f -a "add" -d 'Add a port: the daemon makes its device (veth, tap) or attaches to one (netdev)'
complete -c vepa -n "__fish_vepa_using_subcommand port; and not __fish_seen_subcommand_from add del set show help" -f -a "del" -d 'Remove a port and the device vepa made for it'
complete -c vepa -n "__fish_vepa_using_subcommand port; and not __fish_seen_subcommand_from add del set show help" -f -a "set" -d 'Change a port\'s forwarding settings at run time (traffic still allowed keeps flowing)'
complete -c vepa -n "__fish_vepa_using_subcommand port; and not __fish_seen_subcommand_from add del set show help" -f -a "show" -d 'List ports (all, one switch\'s, or one: SWITCH/PORT)'
complete -c vepa -n "__fish_vepa_using_subcommand port; and not __fish_seen_subcommand_from add del set show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l type -d 'What the port is' -r -f -a "veth\t'vepa makes a veth pair and moves one end into --netns'
tap\t'A TAP device vepa owns (a VM\'s; or a container\'s with --netns)'
netdev\t'An interface that exists already (a NIC, a veth end)'
patch\t'A wire to another switch\'s port (--peer SWITCH/PORT)'
vhost-user\t'A vhost-user socket QEMU connects to'"
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l ifname -d 'Host interface name (default: the port name)' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l netns -d 'Namespace for the far end (veth) or the device (tap); made if missing' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l peer-name -d 'Name of the far end inside --netns (default eth0)' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l peer -d 'For patch: the other end, as switch/port' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l mac -d 'MAC of the far end (veth) or of the tap, e.g. 02:00:00:00:00:01' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l address -d 'Address with prefix length for the far end (repeat)' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l gateway -d 'Default route for the far end (one per family; needs --netns), e.g. a router port\'s address' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l mtu -d 'MTU of the port\'s devices (68-9216)' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l offload -d 'Pass offloads (virtio-net header): on (default) or off' -r -f -a "on\t''
off\t''"
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l vhost-socket -d 'For vhost-user: the socket vepa serves (an absolute path; default /run/vepa/vhost-user/SWITCH/PORT.sock; `socket` in a topology)' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l mode -d 'Mode of its own (`default` on set: the switch\'s again)' -r -f -a "veb\t'Local switching between the switch\'s ports (kernel: bridge)'
vepa\t'Every frame to the uplink; VM to VM only if the adjacent bridge reflects it'
private\t'To the uplink only, never to another local VM'
passthru\t'One VM owns the uplink'
source\t'Copies of frames from the MACs on the port\'s allow list'
default\t'The switch\'s mode (on `port set`: drop the port\'s own)'"
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l relay -d 'Reflective relay (hairpin): on, off, or evb (on only while the 802.1Qbg station behind the port asks for it in its EVB TLV)' -r -f -a "on\t'always reflect (hairpin)'
off\t'never'
evb\t'while the station behind the port asks (EVB TLV)'"
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l vsi -d 'The VM\'s identity for 802.1Qbg\'s VDP, TYPE_ID:VERSION:UUID (e.g. 4660:1:a1b2c3d4-e5f6-1122-3344-556677889900), or none: the switch\'s uplink associates it with the adjacent bridge' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l vdp-enforce -d 'On a relay port: only sources the station associated over VDP may send (on|off)' -r -f -a "on\t''
off\t''"
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l vlan -d 'Access VLAN (untagged), 1-4094' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l trunk -d 'Trunk: the tagged VLANs allowed, comma-separated' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l native-vlan -d 'Trunk: the VLAN of untagged frames' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l mac-limit -d 'Most MACs learned on this port (default 1024 on VM ports, none on the uplink and tunnels); a source beyond it is forwarded, not learned' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l storm -d 'Storm control: KIND=RATE with KIND broadcast, multicast or unknown_unicast and RATE like 500pps, or off (repeat). VM ports default to broadcast=1000pps, multicast=10000pps, unknown_unicast=10000pps' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l bpdu-guard -d 'BPDU guard: a spanning-tree BPDU from the port blocks it for five minutes (off lifts a block)' -r -f -a "on\t''
off\t''"
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l source-mac -d 'For `source` ports: a MAC whose frames this port gets copies of (repeat)' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l guard -d 'Anti-spoofing: only the port\'s MACs and addresses as sources, no router advertisements or DHCP server replies' -r -f -a "on\t''
off\t''"
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l allowed-mac -d 'With --guard: a MAC the port may send from (repeat; default its --mac)' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l allowed-ip -d 'With --guard: an address or prefix it may send from (repeat; default its --address)' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l learn-addresses -d 'On an ipvlan switch: the port also owns the addresses it sends from (up to 64, aged)' -r -f -a "on\t''
off\t''"
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -l uplink -d 'Make it the switch\'s uplink'
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from del" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from del" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from del" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from del" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from del" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l mode -d 'Mode of its own (`default` on set: the switch\'s again)' -r -f -a "veb\t'Local switching between the switch\'s ports (kernel: bridge)'
vepa\t'Every frame to the uplink; VM to VM only if the adjacent bridge reflects it'
private\t'To the uplink only, never to another local VM'
passthru\t'One VM owns the uplink'
source\t'Copies of frames from the MACs on the port\'s allow list'
default\t'The switch\'s mode (on `port set`: drop the port\'s own)'"
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l relay -d 'Reflective relay (hairpin): on, off, or evb (on only while the 802.1Qbg station behind the port asks for it in its EVB TLV)' -r -f -a "on\t'always reflect (hairpin)'
off\t'never'
evb\t'while the station behind the port asks (EVB TLV)'"
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l vsi -d 'The VM\'s identity for 802.1Qbg\'s VDP, TYPE_ID:VERSION:UUID (e.g. 4660:1:a1b2c3d4-e5f6-1122-3344-556677889900), or none: the switch\'s uplink associates it with the adjacent bridge' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l vdp-enforce -d 'On a relay port: only sources the station associated over VDP may send (on|off)' -r -f -a "on\t''
off\t''"
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l vlan -d 'Access VLAN (untagged), 1-4094' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l trunk -d 'Trunk: the tagged VLANs allowed, comma-separated' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l native-vlan -d 'Trunk: the VLAN of untagged frames' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l mac-limit -d 'Most MACs learned on this port (default 1024 on VM ports, none on the uplink and tunnels); a source beyond it is forwarded, not learned' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l storm -d 'Storm control: KIND=RATE with KIND broadcast, multicast or unknown_unicast and RATE like 500pps, or off (repeat). VM ports default to broadcast=1000pps, multicast=10000pps, unknown_unicast=10000pps' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l bpdu-guard -d 'BPDU guard: a spanning-tree BPDU from the port blocks it for five minutes (off lifts a block)' -r -f -a "on\t''
off\t''"
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l source-mac -d 'For `source` ports: a MAC whose frames this port gets copies of (repeat)' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l guard -d 'Anti-spoofing: only the port\'s MACs and addresses as sources, no router advertisements or DHCP server replies' -r -f -a "on\t''
off\t''"
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l allowed-mac -d 'With --guard: a MAC the port may send from (repeat; default its --mac)' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l allowed-ip -d 'With --guard: an address or prefix it may send from (repeat; default its --address)' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l learn-addresses -d 'On an ipvlan switch: the port also owns the addresses it sends from (up to 64, aged)' -r -f -a "on\t''
off\t''"
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from show" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from show" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from show" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a port: the daemon makes its device (veth, tap) or attaches to one (netdev)'
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from help" -f -a "del" -d 'Remove a port and the device vepa made for it'
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from help" -f -a "set" -d 'Change a port\'s forwarding settings at run time (traffic still allowed keeps flowing)'
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from help" -f -a "show" -d 'List ports (all, one switch\'s, or one: SWITCH/PORT)'
complete -c vepa -n "__fish_vepa_using_subcommand port; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and not __fish_seen_subcommand_from show add del flush help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and not __fish_seen_subcommand_from show add del flush help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and not __fish_seen_subcommand_from show add del flush help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and not __fish_seen_subcommand_from show add del flush help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and not __fish_seen_subcommand_from show add del flush help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and not __fish_seen_subcommand_from show add del flush help" -f -a "show" -d 'The switch\'s filtering database (learned and static)'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and not __fish_seen_subcommand_from show add del flush help" -f -a "add" -d 'Pin a MAC to a port (a static entry, kept in the store)'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and not __fish_seen_subcommand_from show add del flush help" -f -a "del" -d 'Remove a static entry'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and not __fish_seen_subcommand_from show add del flush help" -f -a "flush" -d 'Forget learned addresses (all, or one port\'s); static entries stay'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and not __fish_seen_subcommand_from show add del flush help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from show" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from show" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from show" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from add" -l port -d 'The port (of this switch)' -r
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from add" -l vlan -d 'The VLAN (1 when untagged)' -r
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from add" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from add" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from add" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from add" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from del" -l vlan -d 'The VLAN (1 when untagged)' -r
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from del" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from del" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from del" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from del" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from del" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from flush" -l port -d 'The port (of this switch)' -r
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from flush" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from flush" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from flush" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from flush" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from flush" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from help" -f -a "show" -d 'The switch\'s filtering database (learned and static)'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from help" -f -a "add" -d 'Pin a MAC to a port (a static entry, kept in the store)'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from help" -f -a "del" -d 'Remove a static entry'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from help" -f -a "flush" -d 'Forget learned addresses (all, or one port\'s); static entries stay'
complete -c vepa -n "__fish_vepa_using_subcommand fdb; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand mdb; and not __fish_seen_subcommand_from show help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand mdb; and not __fish_seen_subcommand_from show help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand mdb; and not __fish_seen_subcommand_from show help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand mdb; and not __fish_seen_subcommand_from show help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand mdb; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand mdb; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'The switch\'s multicast groups: which ports asked for which group in which VLAN (IGMP/MLD reports), and which ports lead to a router (queries came from them, or they are the uplink, a tunnel, a patch or named in [switch.multicast] router_ports), as `bridge mdb show`'
complete -c vepa -n "__fish_vepa_using_subcommand mdb; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand mdb; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand mdb; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand mdb; and __fish_seen_subcommand_from show" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand mdb; and __fish_seen_subcommand_from show" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand mdb; and __fish_seen_subcommand_from show" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand mdb; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand mdb; and __fish_seen_subcommand_from help" -f -a "show" -d 'The switch\'s multicast groups: which ports asked for which group in which VLAN (IGMP/MLD reports), and which ports lead to a router (queries came from them, or they are the uplink, a tunnel, a patch or named in [switch.multicast] router_ports), as `bridge mdb show`'
complete -c vepa -n "__fish_vepa_using_subcommand mdb; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and not __fish_seen_subcommand_from add mod del dump help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand flow; and not __fish_seen_subcommand_from add mod del dump help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand flow; and not __fish_seen_subcommand_from add mod del dump help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand flow; and not __fish_seen_subcommand_from add mod del dump help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and not __fish_seen_subcommand_from add mod del dump help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and not __fish_seen_subcommand_from add mod del dump help" -f -a "add" -d 'Add flows (one with the same table, priority and match is replaced)'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and not __fish_seen_subcommand_from add mod del dump help" -f -a "mod" -d 'Change the actions of the flows a match selects'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and not __fish_seen_subcommand_from add mod del dump help" -f -a "del" -d 'Remove the flows a match covers (every flow without one)'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and not __fish_seen_subcommand_from add mod del dump help" -f -a "dump" -d 'List flows with their counters (the ones a match covers, or all)'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and not __fish_seen_subcommand_from add mod del dump help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from add" -s f -l file -d 'Read flows from FILE (one per line, # comments), as ovs-ofctl add-flows does' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from add" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from add" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from add" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from add" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from mod" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from mod" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from mod" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from mod" -l strict -d 'Only the flow with exactly this match and priority'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from mod" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from mod" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from del" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from del" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from del" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from del" -l strict -d 'Only the flow with exactly this match and priority'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from del" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from del" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from dump" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from dump" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from dump" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from dump" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from dump" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from dump" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add flows (one with the same table, priority and match is replaced)'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from help" -f -a "mod" -d 'Change the actions of the flows a match selects'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from help" -f -a "del" -d 'Remove the flows a match covers (every flow without one)'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from help" -f -a "dump" -d 'List flows with their counters (the ones a match covers, or all)'
complete -c vepa -n "__fish_vepa_using_subcommand flow; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand group; and not __fish_seen_subcommand_from add mod del dump help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand group; and not __fish_seen_subcommand_from add mod del dump help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand group; and not __fish_seen_subcommand_from add mod del dump help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand group; and not __fish_seen_subcommand_from add mod del dump help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand group; and not __fish_seen_subcommand_from add mod del dump help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand group; and not __fish_seen_subcommand_from add mod del dump help" -f -a "add" -d 'Add groups: group_id=N,type=all|select|indirect|ff,bucket=ACTIONS,...'
complete -c vepa -n "__fish_vepa_using_subcommand group; and not __fish_seen_subcommand_from add mod del dump help" -f -a "mod" -d 'Replace groups of the same id'
complete -c vepa -n "__fish_vepa_using_subcommand group; and not __fish_seen_subcommand_from add mod del dump help" -f -a "del" -d 'Remove a group and the flows that use it (all groups without an id)'
complete -c vepa -n "__fish_vepa_using_subcommand group; and not __fish_seen_subcommand_from add mod del dump help" -f -a "dump" -d 'List groups with their counters'
complete -c vepa -n "__fish_vepa_using_subcommand group; and not __fish_seen_subcommand_from add mod del dump help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from add" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from add" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from add" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from add" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from mod" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from mod" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from mod" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from mod" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from mod" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from del" -l group-id -d 'Only this group' -r
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from del" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from del" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from del" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from del" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from del" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from dump" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from dump" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from dump" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from dump" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from dump" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from dump" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add groups: group_id=N,type=all|select|indirect|ff,bucket=ACTIONS,...'
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "mod" -d 'Replace groups of the same id'
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "del" -d 'Remove a group and the flows that use it (all groups without an id)'
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "dump" -d 'List groups with their counters'
complete -c vepa -n "__fish_vepa_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand router; and not __fish_seen_subcommand_from add del show port flush help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand router; and not __fish_seen_subcommand_from add del show port flush help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand router; and not __fish_seen_subcommand_from add del show port flush help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand router; and not __fish_seen_subcommand_from add del show port flush help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand router; and not __fish_seen_subcommand_from add del show port flush help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand router; and not __fish_seen_subcommand_from add del show port flush help" -f -a "add" -d 'Add a router (no ports yet; give it some with `vepa router port add`)'
complete -c vepa -n "__fish_vepa_using_subcommand router; and not __fish_seen_subcommand_from add del show port flush help" -f -a "del" -d 'Remove a router, its ports and routes'
complete -c vepa -n "__fish_vepa_using_subcommand router; and not __fish_seen_subcommand_from add del show port flush help" -f -a "show" -d 'Show routers: ports, routes, neighbors (ARP/ND) and counters'
complete -c vepa -n "__fish_vepa_using_subcommand router; and not __fish_seen_subcommand_from add del show port flush help" -f -a "port" -d 'Add or remove router ports (a router port is a port on a switch)'
complete -c vepa -n "__fish_vepa_using_subcommand router; and not __fish_seen_subcommand_from add del show port flush help" -f -a "flush" -d 'Forget every resolved neighbor (ARP and ND entries) of a router'
complete -c vepa -n "__fish_vepa_using_subcommand router; and not __fish_seen_subcommand_from add del show port flush help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from add" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from add" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from add" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from add" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from del" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from del" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from del" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from del" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from del" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from show" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from show" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from show" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from port" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from port" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from port" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from port" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from port" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from port" -f -a "add" -d 'Attach a router to a switch with addresses on that subnet, or give it a TUN device'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from port" -f -a "del" -d 'Detach a router port'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from port" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from flush" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from flush" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from flush" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from flush" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from flush" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a router (no ports yet; give it some with `vepa router port add`)'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from help" -f -a "del" -d 'Remove a router, its ports and routes'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show routers: ports, routes, neighbors (ARP/ND) and counters'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from help" -f -a "port" -d 'Add or remove router ports (a router port is a port on a switch)'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from help" -f -a "flush" -d 'Forget every resolved neighbor (ARP and ND entries) of a router'
complete -c vepa -n "__fish_vepa_using_subcommand router; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand route; and not __fish_seen_subcommand_from add del show help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand route; and not __fish_seen_subcommand_from add del show help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand route; and not __fish_seen_subcommand_from add del show help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand route; and not __fish_seen_subcommand_from add del show help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand route; and not __fish_seen_subcommand_from add del show help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand route; and not __fish_seen_subcommand_from add del show help" -f -a "add" -d 'Add a static route: to PREFIX via a gateway on one of the router\'s subnets, or out of a port'
complete -c vepa -n "__fish_vepa_using_subcommand route; and not __fish_seen_subcommand_from add del show help" -f -a "del" -d 'Remove a static route'
complete -c vepa -n "__fish_vepa_using_subcommand route; and not __fish_seen_subcommand_from add del show help" -f -a "show" -d 'A router\'s routing table: connected subnets and static routes'
complete -c vepa -n "__fish_vepa_using_subcommand route; and not __fish_seen_subcommand_from add del show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from add" -l via -d 'The next hop\'s address (on a connected subnet)' -r
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from add" -l port -d 'The router port to send out of (required without --via)' -r
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from add" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from add" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from add" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from add" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from del" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from del" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from del" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from del" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from del" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from show" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from show" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from show" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a static route: to PREFIX via a gateway on one of the router\'s subnets, or out of a port'
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from help" -f -a "del" -d 'Remove a static route'
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from help" -f -a "show" -d 'A router\'s routing table: connected subnets and static routes'
complete -c vepa -n "__fish_vepa_using_subcommand route; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand tunnel; and not __fish_seen_subcommand_from show help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand tunnel; and not __fish_seen_subcommand_from show help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand tunnel; and not __fish_seen_subcommand_from show help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand tunnel; and not __fish_seen_subcommand_from show help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand tunnel; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand tunnel; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'VXLAN ports: VNI, local and remote VTEPs, the inner MTU, remote MACs learned (and behind which VTEP), drops'
complete -c vepa -n "__fish_vepa_using_subcommand tunnel; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand tunnel; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand tunnel; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand tunnel; and __fish_seen_subcommand_from show" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand tunnel; and __fish_seen_subcommand_from show" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand tunnel; and __fish_seen_subcommand_from show" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand tunnel; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand tunnel; and __fish_seen_subcommand_from help" -f -a "show" -d 'VXLAN ports: VNI, local and remote VTEPs, the inner MTU, remote MACs learned (and behind which VTEP), drops'
complete -c vepa -n "__fish_vepa_using_subcommand tunnel; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand lldp; and not __fish_seen_subcommand_from show help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand lldp; and not __fish_seen_subcommand_from show help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand lldp; and not __fish_seen_subcommand_from show help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand lldp; and not __fish_seen_subcommand_from show help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand lldp; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand lldp; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'Neighbours per uplink and relay port: chassis and port ID, system name, TTL left, management addresses, the EVB TLV (reflective relay), and the agent\'s counters'
complete -c vepa -n "__fish_vepa_using_subcommand lldp; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand lldp; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand lldp; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand lldp; and __fish_seen_subcommand_from show" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand lldp; and __fish_seen_subcommand_from show" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand lldp; and __fish_seen_subcommand_from show" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand lldp; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand lldp; and __fish_seen_subcommand_from help" -f -a "show" -d 'Neighbours per uplink and relay port: chassis and port ID, system name, TTL left, management addresses, the EVB TLV (reflective relay), and the agent\'s counters'
complete -c vepa -n "__fish_vepa_using_subcommand lldp; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand log; and not __fish_seen_subcommand_from level help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand log; and not __fish_seen_subcommand_from level help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand log; and not __fish_seen_subcommand_from level help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand log; and not __fish_seen_subcommand_from level help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand log; and not __fish_seen_subcommand_from level help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand log; and not __fish_seen_subcommand_from level help" -f -a "level" -d 'Show the daemon\'s log filter, or replace it at run time: FILTER is a level (error, warn, info, debug, trace) or directives per module, as RUST_LOG takes them (e.g. `vepa=debug,warn`, `vepa_daemon::link=trace`)'
complete -c vepa -n "__fish_vepa_using_subcommand log; and not __fish_seen_subcommand_from level help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand log; and __fish_seen_subcommand_from level" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand log; and __fish_seen_subcommand_from level" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand log; and __fish_seen_subcommand_from level" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand log; and __fish_seen_subcommand_from level" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand log; and __fish_seen_subcommand_from level" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand log; and __fish_seen_subcommand_from level" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand log; and __fish_seen_subcommand_from help" -f -a "level" -d 'Show the daemon\'s log filter, or replace it at run time: FILTER is a level (error, warn, info, debug, trace) or directives per module, as RUST_LOG takes them (e.g. `vepa=debug,warn`, `vepa_daemon::link=trace`)'
complete -c vepa -n "__fish_vepa_using_subcommand log; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand relay; and not __fish_seen_subcommand_from probe help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand relay; and not __fish_seen_subcommand_from probe help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand relay; and not __fish_seen_subcommand_from probe help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand relay; and not __fish_seen_subcommand_from probe help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand relay; and not __fish_seen_subcommand_from probe help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand relay; and not __fish_seen_subcommand_from probe help" -f -a "probe" -d 'Whether the adjacent bridge on a switch\'s uplink reflects frames back down the port they came in on (reflective relay, hairpin); exits 1 when it does not'
complete -c vepa -n "__fish_vepa_using_subcommand relay; and not __fish_seen_subcommand_from probe help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand relay; and __fish_seen_subcommand_from probe" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand relay; and __fish_seen_subcommand_from probe" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand relay; and __fish_seen_subcommand_from probe" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand relay; and __fish_seen_subcommand_from probe" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand relay; and __fish_seen_subcommand_from probe" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand relay; and __fish_seen_subcommand_from probe" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand relay; and __fish_seen_subcommand_from help" -f -a "probe" -d 'Whether the adjacent bridge on a switch\'s uplink reflects frames back down the port they came in on (reflective relay, hairpin); exits 1 when it does not'
complete -c vepa -n "__fish_vepa_using_subcommand relay; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand vdp; and not __fish_seen_subcommand_from show help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand vdp; and not __fish_seen_subcommand_from show help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand vdp; and not __fish_seen_subcommand_from show help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand vdp; and not __fish_seen_subcommand_from show help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand vdp; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand vdp; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'VSIs (VMs\' interfaces) associated over 802.1Qbg\'s VDP: on each uplink the switch\'s VMs and what the adjacent bridge answered, on each relay port what the station behind it associated; with ECP\'s counters'
complete -c vepa -n "__fish_vepa_using_subcommand vdp; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand vdp; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand vdp; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand vdp; and __fish_seen_subcommand_from show" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand vdp; and __fish_seen_subcommand_from show" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand vdp; and __fish_seen_subcommand_from show" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand vdp; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand vdp; and __fish_seen_subcommand_from help" -f -a "show" -d 'VSIs (VMs\' interfaces) associated over 802.1Qbg\'s VDP: on each uplink the switch\'s VMs and what the adjacent bridge answered, on each relay port what the station behind it associated; with ECP\'s counters'
complete -c vepa -n "__fish_vepa_using_subcommand vdp; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand hosts; and not __fish_seen_subcommand_from show help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand hosts; and not __fish_seen_subcommand_from show help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand hosts; and not __fish_seen_subcommand_from show help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand hosts; and not __fish_seen_subcommand_from show help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand hosts; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand hosts; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'The hosts the etcd control plane lists (the last known list while etcd is away): their underlay address, and each spanning switch\'s VNI, VTEP and VM MACs'
complete -c vepa -n "__fish_vepa_using_subcommand hosts; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand hosts; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand hosts; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand hosts; and __fish_seen_subcommand_from show" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand hosts; and __fish_seen_subcommand_from show" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand hosts; and __fish_seen_subcommand_from show" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand hosts; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand hosts; and __fish_seen_subcommand_from help" -f -a "show" -d 'The hosts the etcd control plane lists (the last known list while etcd is away): their underlay address, and each spanning switch\'s VNI, VTEP and VM MACs'
complete -c vepa -n "__fish_vepa_using_subcommand hosts; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand vm-args" -l memory -d 'For a vhost-user port: the guest\'s memory in MiB, the same as QEMU\'s -m (a memfd backend of that size is shared with vepa)' -r
complete -c vepa -n "__fish_vepa_using_subcommand vm-args" -l model -d 'The NIC the guest sees (vmxnet3 for a VM moved from VMware)' -r -f -a "virtio\t'virtio-net: the fastest, with offloads and the port\'s MTU'
vmxnet3\t'VMware\'s paravirtual NIC: what a VM imported from VMware expects'
e1000e\t'Intel 82574: what a guest with no paravirtual driver has'"
complete -c vepa -n "__fish_vepa_using_subcommand vm-args" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand vm-args" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand vm-args" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand vm-args" -l tcg -d 'For a vhost-user port: the guest runs without KVM (QEMU\'s TCG emulation), so its NIC gets legacy interrupts (vectors=0): QEMU 7.2 crashes starting a vhost-user NIC with MSI-X under TCG. The default when /dev/kvm is missing'
complete -c vepa -n "__fish_vepa_using_subcommand vm-args" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand vm-args" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand libvirt-xml" -l model -d 'The NIC the guest sees (vmxnet3 for a VM moved from VMware)' -r -f -a "virtio\t'virtio-net: the fastest, with offloads and the port\'s MTU'
vmxnet3\t'VMware\'s paravirtual NIC: what a VM imported from VMware expects'
e1000e\t'Intel 82574: what a guest with no paravirtual driver has'"
complete -c vepa -n "__fish_vepa_using_subcommand libvirt-xml" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand libvirt-xml" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand libvirt-xml" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand libvirt-xml" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand libvirt-xml" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand acl; and not __fish_seen_subcommand_from add del show help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand acl; and not __fish_seen_subcommand_from add del show help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand acl; and not __fish_seen_subcommand_from add del show help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand acl; and not __fish_seen_subcommand_from add del show help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand acl; and not __fish_seen_subcommand_from add del show help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand acl; and not __fish_seen_subcommand_from add del show help" -f -a "add" -d 'Make an ACL on a switch port or a router, or add rules to one'
complete -c vepa -n "__fish_vepa_using_subcommand acl; and not __fish_seen_subcommand_from add del show help" -f -a "del" -d 'Remove an ACL, or one of its rules'
complete -c vepa -n "__fish_vepa_using_subcommand acl; and not __fish_seen_subcommand_from add del show help" -f -a "show" -d 'ACLs with their rules and what each matched'
complete -c vepa -n "__fish_vepa_using_subcommand acl; and not __fish_seen_subcommand_from add del show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from add" -l port -d 'A new ACL: the switch port it filters, as SWITCH/PORT' -r
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from add" -l direction -d 'A new ACL on a port: in (from the VM, default) or out (to the VM)' -r -f -a "in\t''
out\t''"
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from add" -l router -d 'A new ACL: the router whose forwarded packets it filters' -r
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from add" -l default -d 'A new ACL: what packets no rule matches get (allow, drop, reject; default allow)' -r -f -a "allow\t''
drop\t''
reject\t''"
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from add" -l conntrack-limit -d 'A new ACL: most connections tracked at its place (default 65536)' -r
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from add" -l at -d 'Add the rules before rule N (1 is the first) instead of at the end' -r
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from add" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from add" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from add" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from add" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from del" -l rule -d 'Only rule N (as `vepa acl show` numbers them)' -r
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from del" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from del" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from del" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from del" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from del" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from show" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from show" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from show" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from help" -f -a "add" -d 'Make an ACL on a switch port or a router, or add rules to one'
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from help" -f -a "del" -d 'Remove an ACL, or one of its rules'
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from help" -f -a "show" -d 'ACLs with their rules and what each matched'
complete -c vepa -n "__fish_vepa_using_subcommand acl; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and not __fish_seen_subcommand_from show flush help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and not __fish_seen_subcommand_from show flush help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and not __fish_seen_subcommand_from show flush help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and not __fish_seen_subcommand_from show flush help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and not __fish_seen_subcommand_from show flush help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and not __fish_seen_subcommand_from show flush help" -f -a "show" -d 'Tracked connections, per table (a port\'s or a router\'s)'
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and not __fish_seen_subcommand_from show flush help" -f -a "flush" -d 'Forget tracked connections (of one table, or all)'
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and not __fish_seen_subcommand_from show flush help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from show" -l port -d 'The table of a port\'s stateful ACL' -r
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from show" -l router -d 'The table of a router\'s stateful ACL' -r
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from show" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from show" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from show" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from flush" -l port -d 'The table of a port\'s stateful ACL' -r
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from flush" -l router -d 'The table of a router\'s stateful ACL' -r
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from flush" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from flush" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from flush" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from flush" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from flush" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from flush" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from help" -f -a "show" -d 'Tracked connections, per table (a port\'s or a router\'s)'
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from help" -f -a "flush" -d 'Forget tracked connections (of one table, or all)'
complete -c vepa -n "__fish_vepa_using_subcommand conntrack; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand stats" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand stats" -l watch -d 'Print rates every SECS seconds instead of a snapshot: per port frames and bits per second each way and drops per second (with -o json, one JSON object per line), until interrupted' -r
complete -c vepa -n "__fish_vepa_using_subcommand stats" -l count -d 'With --watch: stop after N intervals' -r
complete -c vepa -n "__fish_vepa_using_subcommand stats" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand stats" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand stats" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand stats" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand stats" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand apply" -s f -l file -d 'Topology file (TOML)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand apply" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand apply" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand apply" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand apply" -l dry-run -d 'Print the plan and change nothing'
complete -c vepa -n "__fish_vepa_using_subcommand apply" -l force -d 'Apply even if the file was exported at an older generation (what changed since is undone)'
complete -c vepa -n "__fish_vepa_using_subcommand apply" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand export" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand export" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand export" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand export" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand capture" -s w -d 'File to write (default: stdout, e.g. `| tcpdump -r -`)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand capture" -s c -d 'Stop after this many frames' -r
complete -c vepa -n "__fish_vepa_using_subcommand capture" -s f -l filter -d 'Only frames this pcap-filter expression matches (see above)' -r
complete -c vepa -n "__fish_vepa_using_subcommand capture" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand capture" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand capture" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand capture" -l drops -d 'Also the frames the switch drops as they enter the ports, with the reason as the packet\'s comment'
complete -c vepa -n "__fish_vepa_using_subcommand capture" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand capture" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand trace" -l pcap -d 'Trace a real frame instead: one from a capture file (pcap or pcapng, e.g. written by vepa capture or tcpdump -w)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand trace" -l packet -d 'Which frame of --pcap to trace (1: the first)' -r
complete -c vepa -n "__fish_vepa_using_subcommand trace" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand trace" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand trace" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand trace" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand trace" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand trace" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand top" -s n -l interval -d 'Seconds between refreshes' -r
complete -c vepa -n "__fish_vepa_using_subcommand top" -l sort -d 'The column to sort by at the start (keys change it)' -r -f -a "rx\t'Frames received per second'
tx\t'Frames sent per second'
rx-bits\t'Bits received per second'
tx-bits\t'Bits sent per second'
drops\t'Drops per second'
name\t'SWITCH/PORT'"
complete -c vepa -n "__fish_vepa_using_subcommand top" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand top" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand top" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand top" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand top" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and not __fish_seen_subcommand_from add del show help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and not __fish_seen_subcommand_from add del show help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and not __fish_seen_subcommand_from add del show help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and not __fish_seen_subcommand_from add del show help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and not __fish_seen_subcommand_from add del show help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and not __fish_seen_subcommand_from add del show help" -f -a "add" -d 'Copy the frames some ports receive and/or send to a monitor port (SPAN) or up the uplink tagged with a VLAN (RSPAN)'
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and not __fish_seen_subcommand_from add del show help" -f -a "del" -d 'Remove a mirror'
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and not __fish_seen_subcommand_from add del show help" -f -a "show" -d 'The mirrors and the copies each has sent'
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and not __fish_seen_subcommand_from add del show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from add" -l select -d 'The ports to watch (comma-separated or repeated)' -r
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from add" -l direction -d 'Which of the selected ports\' frames: in, out or both' -r -f -a "in\t'What the ports receive (from their VM, container or wire)'
out\t'What the switch sends them'
both\t'Both'"
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from add" -l vlan -d 'Only frames switched in these VLANs (default: every VLAN)' -r
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from add" -l output-port -d 'The monitor port the copies go to (`output` in a topology file)' -r
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from add" -l output-vlan -d 'RSPAN: send the copies up the uplink tagged with this VLAN' -r
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from add" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from add" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from add" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from add" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from add" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from del" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from del" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from del" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from del" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from del" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from del" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from show" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from show" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from show" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from help" -f -a "add" -d 'Copy the frames some ports receive and/or send to a monitor port (SPAN) or up the uplink tagged with a VLAN (RSPAN)'
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from help" -f -a "del" -d 'Remove a mirror'
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from help" -f -a "show" -d 'The mirrors and the copies each has sent'
complete -c vepa -n "__fish_vepa_using_subcommand mirror; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and not __fish_seen_subcommand_from set del show help" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and not __fish_seen_subcommand_from set del show help" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and not __fish_seen_subcommand_from set del show help" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and not __fish_seen_subcommand_from set del show help" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and not __fish_seen_subcommand_from set del show help" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and not __fish_seen_subcommand_from set del show help" -f -a "set" -d 'Export a record per IP flow entering a switch to an IPFIX collector'
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and not __fish_seen_subcommand_from set del show help" -f -a "del" -d 'Stop a switch\'s flow export (flows it meters are reported first)'
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and not __fish_seen_subcommand_from set del show help" -f -a "show" -d 'Each switch\'s export: collector, settings and what it sent'
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and not __fish_seen_subcommand_from set del show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from set" -l collector -d 'The collector: IP:PORT, [IPv6]:PORT, or an IP (port 4739)' -r
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from set" -l sampling -d 'Meter one packet in N [default: 1, every packet]' -r
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from set" -l active-timeout -d 'Seconds between reports of a flow that goes on [default: 60]' -r
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from set" -l idle-timeout -d 'Seconds without packets before a flow is reported and forgotten [default: 15]' -r
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from set" -l observation-domain -d 'The observation domain ID [default: derived from the switch\'s name]' -r
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from set" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from set" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from set" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from set" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from set" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from del" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from del" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from del" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from del" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from del" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from del" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format (-j/--json, before or after the command, is -o json for every command)' -r -f -a "table\t''
json\t''"
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from show" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from show" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from show" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from help" -f -a "set" -d 'Export a record per IP flow entering a switch to an IPFIX collector'
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from help" -f -a "del" -d 'Stop a switch\'s flow export (flows it meters are reported first)'
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from help" -f -a "show" -d 'Each switch\'s export: collector, settings and what it sent'
complete -c vepa -n "__fish_vepa_using_subcommand ipfix; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand completions" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand completions" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand completions" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand completions" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand man" -l dir -d 'Where to write the pages' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand man" -l socket -d 'The daemon\'s socket (default /run/vepa/vepa.sock, or VEPA_SOCKET)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand man" -l url -d 'Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file' -r
complete -c vepa -n "__fish_vepa_using_subcommand man" -l token-file -d 'The bearer token for --url (or, for the daemon, for --listen)' -r -F
complete -c vepa -n "__fish_vepa_using_subcommand man" -s j -l json -d 'Answer in JSON (every command that answers; what streams or runs in the foreground refuses it): one JSON document on stdout'
complete -c vepa -n "__fish_vepa_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "demo" -d 'Watch the modes at work in throw-away namespaces (needs root)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "run" -d 'Run a topology file in the foreground (needs root)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "graph" -d 'Draw the fabric: switches, ports, routers, and what lies beyond'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "validate" -d 'Check a topology file without touching the host'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "daemon" -d 'Run the switch as a service with durable state and an API (needs root)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "doctor" -d 'What this kernel can do, tried in a scratch namespace, and what vepa uses instead (needs root)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "nic" -d 'Physical NICs: embedded bridge mode (VEB/VEPA) and SR-IOV virtual functions (needs root)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "switch" -d 'Add, remove, change or list switches (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "port" -d 'Add, remove, change or list ports (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "fdb" -d 'Show, add, remove or flush FDB entries (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "mdb" -d 'Show IGMP/MLD snooping\'s groups and router ports (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "flow" -d 'Add, change, remove or list flows, in ovs-ofctl\'s syntax (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "group" -d 'Add, change, remove or list OpenFlow groups (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "router" -d 'Add, remove or show routers and their ports; neighbors and counters (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "route" -d 'Add, remove or show a router\'s static routes (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "tunnel" -d 'VXLAN tunnels: endpoints, learned remote MACs, drops (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "lldp" -d 'LLDP neighbours of uplinks and relay ports, with their EVB TLV (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "log" -d 'The daemon\'s log filter: show it, or change it without a restart (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "relay" -d 'Whether the adjacent bridge reflects frames back (reflective relay probe) (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "vdp" -d 'VMs associated with the adjacent bridge over 802.1Qbg\'s VDP, per uplink and relay port (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "hosts" -d 'Hosts of the multi-host fabric, as etcd lists them (daemon with --etcd)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "vm-args" -d 'QEMU arguments that plug a guest into a VM\'s port (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "libvirt-xml" -d 'The libvirt <interface> element for a VM\'s port (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "acl" -d 'Add, remove or show access lists on switch ports and routers (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "conntrack" -d 'Show or flush the connections stateful ACLs track (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "stats" -d 'Per-port counters, drops by reason, FDB sizes (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "apply" -d 'Make the daemon\'s state equal to a topology file, whole or not at all'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "export" -d 'Print the daemon\'s state as a topology file (`apply` of it is an empty plan)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "capture" -d 'Write the frames ports send and receive as pcapng (tcpdump -r, tshark -r)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "trace" -d 'What forwarding would do with a frame, stage by stage, without sending it'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "top" -d 'A live view: per-port rates, drops by reason, FDB sizes, each worker\'s load and cache hits (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "mirror" -d 'Port mirrors: SPAN to a monitor port, RSPAN to a VLAN on the uplink (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "ipfix" -d 'IPFIX flow export: a record per IP flow to a collector (daemon)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "man" -d 'Write vepa\'s man pages (vepa.1 and one per subcommand) into a directory'
complete -c vepa -n "__fish_vepa_using_subcommand help; and not __fish_seen_subcommand_from demo run graph validate daemon doctor nic switch port fdb mdb flow group router route tunnel lldp log relay vdp hosts vm-args libvirt-xml acl conntrack stats apply export capture trace top mirror ipfix completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from nic" -f -a "show" -d 'Physical NICs (or one device): driver, SR-IOV VFs, embedded bridge mode'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from nic" -f -a "set" -d 'Set a NIC\'s embedded bridge mode: `vepa nic set DEV hwmode vepa|veb`'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from nic" -f -a "vf" -d 'Change one virtual function: MAC, VLAN, spoof check, trust, link state'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from nic" -f -a "sriov" -d 'Set how many VFs a NIC has: `vepa nic sriov DEV numvfs N`'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from switch" -f -a "add" -d 'Add a switch (no ports yet)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from switch" -f -a "del" -d 'Remove a switch and every port on it'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from switch" -f -a "set" -d 'Change a switch\'s default mode, ageing time or 802.1Qbg settings, at run time'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from switch" -f -a "show" -d 'List switches (or one)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from port" -f -a "add" -d 'Add a port: the daemon makes its device (veth, tap) or attaches to one (netdev)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from port" -f -a "del" -d 'Remove a port and the device vepa made for it'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from port" -f -a "set" -d 'Change a port\'s forwarding settings at run time (traffic still allowed keeps flowing)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from port" -f -a "show" -d 'List ports (all, one switch\'s, or one: SWITCH/PORT)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from fdb" -f -a "show" -d 'The switch\'s filtering database (learned and static)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from fdb" -f -a "add" -d 'Pin a MAC to a port (a static entry, kept in the store)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from fdb" -f -a "del" -d 'Remove a static entry'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from fdb" -f -a "flush" -d 'Forget learned addresses (all, or one port\'s); static entries stay'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from mdb" -f -a "show" -d 'The switch\'s multicast groups: which ports asked for which group in which VLAN (IGMP/MLD reports), and which ports lead to a router (queries came from them, or they are the uplink, a tunnel, a patch or named in [switch.multicast] router_ports), as `bridge mdb show`'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from flow" -f -a "add" -d 'Add flows (one with the same table, priority and match is replaced)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from flow" -f -a "mod" -d 'Change the actions of the flows a match selects'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from flow" -f -a "del" -d 'Remove the flows a match covers (every flow without one)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from flow" -f -a "dump" -d 'List flows with their counters (the ones a match covers, or all)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "add" -d 'Add groups: group_id=N,type=all|select|indirect|ff,bucket=ACTIONS,...'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "mod" -d 'Replace groups of the same id'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "del" -d 'Remove a group and the flows that use it (all groups without an id)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "dump" -d 'List groups with their counters'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from router" -f -a "add" -d 'Add a router (no ports yet; give it some with `vepa router port add`)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from router" -f -a "del" -d 'Remove a router, its ports and routes'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from router" -f -a "show" -d 'Show routers: ports, routes, neighbors (ARP/ND) and counters'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from router" -f -a "port" -d 'Add or remove router ports (a router port is a port on a switch)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from router" -f -a "flush" -d 'Forget every resolved neighbor (ARP and ND entries) of a router'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from route" -f -a "add" -d 'Add a static route: to PREFIX via a gateway on one of the router\'s subnets, or out of a port'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from route" -f -a "del" -d 'Remove a static route'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from route" -f -a "show" -d 'A router\'s routing table: connected subnets and static routes'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from tunnel" -f -a "show" -d 'VXLAN ports: VNI, local and remote VTEPs, the inner MTU, remote MACs learned (and behind which VTEP), drops'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from lldp" -f -a "show" -d 'Neighbours per uplink and relay port: chassis and port ID, system name, TTL left, management addresses, the EVB TLV (reflective relay), and the agent\'s counters'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from log" -f -a "level" -d 'Show the daemon\'s log filter, or replace it at run time: FILTER is a level (error, warn, info, debug, trace) or directives per module, as RUST_LOG takes them (e.g. `vepa=debug,warn`, `vepa_daemon::link=trace`)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from relay" -f -a "probe" -d 'Whether the adjacent bridge on a switch\'s uplink reflects frames back down the port they came in on (reflective relay, hairpin); exits 1 when it does not'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from vdp" -f -a "show" -d 'VSIs (VMs\' interfaces) associated over 802.1Qbg\'s VDP: on each uplink the switch\'s VMs and what the adjacent bridge answered, on each relay port what the station behind it associated; with ECP\'s counters'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from hosts" -f -a "show" -d 'The hosts the etcd control plane lists (the last known list while etcd is away): their underlay address, and each spanning switch\'s VNI, VTEP and VM MACs'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from acl" -f -a "add" -d 'Make an ACL on a switch port or a router, or add rules to one'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from acl" -f -a "del" -d 'Remove an ACL, or one of its rules'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from acl" -f -a "show" -d 'ACLs with their rules and what each matched'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from conntrack" -f -a "show" -d 'Tracked connections, per table (a port\'s or a router\'s)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from conntrack" -f -a "flush" -d 'Forget tracked connections (of one table, or all)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from mirror" -f -a "add" -d 'Copy the frames some ports receive and/or send to a monitor port (SPAN) or up the uplink tagged with a VLAN (RSPAN)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from mirror" -f -a "del" -d 'Remove a mirror'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from mirror" -f -a "show" -d 'The mirrors and the copies each has sent'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from ipfix" -f -a "set" -d 'Export a record per IP flow entering a switch to an IPFIX collector'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from ipfix" -f -a "del" -d 'Stop a switch\'s flow export (flows it meters are reported first)'
complete -c vepa -n "__fish_vepa_using_subcommand help; and __fish_seen_subcommand_from ipfix" -f -a "show" -d 'Each switch\'s export: collector, settings and what it sent'
