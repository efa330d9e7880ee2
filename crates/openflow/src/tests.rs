//! The codec's properties: every message encodes to what decodes back
//! equal, any byte string decodes to a message or an error (never a
//! panic), and a decoded message re-encodes to the same bytes.

use crate::multipart::*;
use crate::types::*;
use crate::*;
use proptest::collection::vec;
use proptest::prelude::*;

fn arb_oxm() -> impl Strategy<Value = Oxm> {
    (
        any::<u16>(),
        0u8..128,
        vec(any::<u8>(), 1..8),
        any::<bool>(),
    )
        .prop_map(|(class, field, v, masked)| Oxm {
            class,
            field,
            mask: masked.then(|| v.iter().map(|b| !b).collect()),
            value: v,
        })
}

fn arb_match() -> impl Strategy<Value = Match> {
    vec(arb_oxm(), 0..5).prop_map(|fields| Match { fields })
}

/// Experimenter payloads whose length keeps the TLV a multiple of 8.
fn padded(extra: usize) -> impl Strategy<Value = Vec<u8>> {
    (0usize..3).prop_flat_map(move |k| vec(any::<u8>(), k * 8 + extra))
}

fn arb_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (any::<u32>(), any::<u16>()).prop_map(|(port, max_len)| Action::Output { port, max_len }),
        Just(Action::CopyTtlOut),
        Just(Action::CopyTtlIn),
        any::<u8>().prop_map(Action::SetMplsTtl),
        Just(Action::DecMplsTtl),
        any::<u16>().prop_map(Action::PushVlan),
        Just(Action::PopVlan),
        any::<u16>().prop_map(Action::PushMpls),
        any::<u16>().prop_map(Action::PopMpls),
        any::<u32>().prop_map(Action::SetQueue),
        any::<u32>().prop_map(Action::Group),
        any::<u8>().prop_map(Action::SetNwTtl),
        Just(Action::DecNwTtl),
        arb_oxm().prop_map(Action::SetField),
        any::<u16>().prop_map(Action::PushPbb),
        Just(Action::PopPbb),
        (any::<u32>(), padded(0)).prop_map(|(id, data)| Action::Experimenter { id, data }),
    ]
}

fn arb_instruction() -> impl Strategy<Value = Instruction> {
    prop_oneof![
        any::<u8>().prop_map(Instruction::GotoTable),
        (any::<u64>(), any::<u64>())
            .prop_map(|(metadata, mask)| Instruction::WriteMetadata { metadata, mask }),
        vec(arb_action(), 0..3).prop_map(Instruction::WriteActions),
        vec(arb_action(), 0..3).prop_map(Instruction::ApplyActions),
        Just(Instruction::ClearActions),
        any::<u32>().prop_map(Instruction::Meter),
        (any::<u32>(), padded(0)).prop_map(|(id, data)| Instruction::Experimenter { id, data }),
    ]
}

fn arb_bucket() -> impl Strategy<Value = Bucket> {
    (
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        vec(arb_action(), 0..3),
    )
        .prop_map(|(weight, watch_port, watch_group, actions)| Bucket {
            weight,
            watch_port,
            watch_group,
            actions,
        })
}

fn name(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-z0-9]{{0,{max}}}")).expect("regex")
}

fn arb_port() -> impl Strategy<Value = PortDesc> {
    (
        any::<u32>(),
        any::<[u8; 6]>(),
        name(15),
        vec(any::<u32>(), 8),
    )
        .prop_map(|(port_no, hw_addr, name, w)| PortDesc {
            port_no,
            hw_addr,
            name,
            config: w[0],
            state: w[1],
            curr: w[2],
            advertised: w[3],
            supported: w[4],
            peer: w[5],
            curr_speed: w[6],
            max_speed: w[7],
        })
}

fn arb_flow_request() -> impl Strategy<Value = FlowStatsRequest> {
    (
        any::<u8>(),
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
        any::<u64>(),
        arb_match(),
    )
        .prop_map(
            |(table_id, out_port, out_group, cookie, cookie_mask, matcher)| FlowStatsRequest {
                table_id,
                out_port,
                out_group,
                cookie,
                cookie_mask,
                matcher,
            },
        )
}

fn arb_table_features() -> impl Strategy<Value = TableFeatures> {
    (
        any::<u8>(),
        name(31),
        any::<u64>(),
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        vec((any::<u16>(), vec(any::<u8>(), 0..12)), 0..3),
    )
        .prop_map(
            |(table_id, name, metadata_match, metadata_write, config, max_entries, props)| {
                TableFeatures {
                    table_id,
                    name,
                    metadata_match,
                    metadata_write,
                    config,
                    max_entries,
                    properties: props
                        .into_iter()
                        .map(|(kind, data)| TableFeatureProp { kind, data })
                        .collect(),
                }
            },
        )
}

fn arb_request() -> impl Strategy<Value = MultipartRequest> {
    prop_oneof![
        Just(MultipartRequest::Desc),
        arb_flow_request().prop_map(MultipartRequest::Flow),
        arb_flow_request().prop_map(MultipartRequest::Aggregate),
        Just(MultipartRequest::Table),
        any::<u32>().prop_map(|port_no| MultipartRequest::PortStats { port_no }),
        (any::<u32>(), any::<u32>())
            .prop_map(|(port_no, queue_id)| MultipartRequest::Queue { port_no, queue_id }),
        any::<u32>().prop_map(|group_id| MultipartRequest::Group { group_id }),
        Just(MultipartRequest::GroupDesc),
        Just(MultipartRequest::GroupFeatures),
        any::<u32>().prop_map(|meter_id| MultipartRequest::Meter { meter_id }),
        any::<u32>().prop_map(|meter_id| MultipartRequest::MeterConfig { meter_id }),
        Just(MultipartRequest::MeterFeatures),
        vec(arb_table_features(), 0..3).prop_map(MultipartRequest::TableFeatures),
        Just(MultipartRequest::PortDesc),
        (any::<u32>(), any::<u32>(), vec(any::<u8>(), 0..16))
            .prop_map(|(id, exp_type, data)| MultipartRequest::Experimenter { id, exp_type, data }),
    ]
}

fn arb_flow_stats() -> impl Strategy<Value = FlowStats> {
    (
        any::<u8>(),
        any::<(u32, u32)>(),
        any::<(u16, u16, u16, u16)>(),
        any::<(u64, u64, u64)>(),
        arb_match(),
        vec(arb_instruction(), 0..3),
    )
        .prop_map(
            |(
                table_id,
                (duration_sec, duration_nsec),
                (priority, idle_timeout, hard_timeout, flags),
                (cookie, packet_count, byte_count),
                matcher,
                instructions,
            )| FlowStats {
                table_id,
                duration_sec,
                duration_nsec,
                priority,
                idle_timeout,
                hard_timeout,
                flags,
                cookie,
                packet_count,
                byte_count,
                matcher,
                instructions,
            },
        )
}

fn arb_reply() -> impl Strategy<Value = MultipartReply> {
    prop_oneof![
        (name(40), name(40), name(40), name(31), name(40)).prop_map(|(mfr, hw, sw, serial, dp)| {
            MultipartReply::Desc(Desc {
                mfr,
                hw,
                sw,
                serial,
                dp,
            })
        }),
        vec(arb_flow_stats(), 0..3).prop_map(MultipartReply::Flow),
        (any::<u64>(), any::<u64>(), any::<u32>()).prop_map(
            |(packet_count, byte_count, flow_count)| MultipartReply::Aggregate {
                packet_count,
                byte_count,
                flow_count
            }
        ),
        vec(
            (any::<u8>(), any::<u32>(), any::<u64>(), any::<u64>()),
            0..4
        )
        .prop_map(|v| MultipartReply::Table(
            v.into_iter()
                .map(
                    |(table_id, active_count, lookup_count, matched_count)| TableStats {
                        table_id,
                        active_count,
                        lookup_count,
                        matched_count
                    }
                )
                .collect()
        )),
        vec(
            (any::<u32>(), any::<[u64; 12]>(), any::<(u32, u32)>()),
            0..3
        )
        .prop_map(|v| MultipartReply::PortStats(
            v.into_iter()
                .map(|(port_no, c, (duration_sec, duration_nsec))| PortStats {
                    port_no,
                    rx_packets: c[0],
                    tx_packets: c[1],
                    rx_bytes: c[2],
                    tx_bytes: c[3],
                    rx_dropped: c[4],
                    tx_dropped: c[5],
                    rx_errors: c[6],
                    tx_errors: c[7],
                    rx_frame_err: c[8],
                    rx_over_err: c[9],
                    rx_crc_err: c[10],
                    collisions: c[11],
                    duration_sec,
                    duration_nsec
                })
                .collect()
        )),
        Just(MultipartReply::Empty(kind::QUEUE)),
        vec(
            (
                any::<u32>(),
                any::<u32>(),
                any::<(u64, u64)>(),
                any::<(u32, u32)>(),
                vec(any::<(u64, u64)>(), 0..3)
            ),
            0..3
        )
        .prop_map(|v| MultipartReply::Meter(
            v.into_iter()
                .map(
                    |(
                        meter_id,
                        flow_count,
                        (packet_in_count, byte_in_count),
                        (duration_sec, duration_nsec),
                        bands,
                    )| MeterStats {
                        meter_id,
                        flow_count,
                        packet_in_count,
                        byte_in_count,
                        duration_sec,
                        duration_nsec,
                        bands
                    }
                )
                .collect()
        )),
        vec(
            (
                any::<u16>(),
                any::<u32>(),
                (0usize..3).prop_flat_map(|n| vec(any::<u8>(), n * 16))
            ),
            0..3
        )
        .prop_map(|v| MultipartReply::MeterConfig(
            v.into_iter()
                .map(|(flags, meter_id, bands)| MeterConfig {
                    flags,
                    meter_id,
                    bands
                })
                .collect()
        )),
        vec(
            (
                any::<u32>(),
                any::<u32>(),
                any::<(u64, u64)>(),
                any::<(u32, u32)>(),
                vec(any::<(u64, u64)>(), 0..3)
            ),
            0..3
        )
        .prop_map(|v| MultipartReply::Group(
            v.into_iter()
                .map(
                    |(
                        group_id,
                        ref_count,
                        (packet_count, byte_count),
                        (duration_sec, duration_nsec),
                        buckets,
                    )| GroupStats {
                        group_id,
                        ref_count,
                        packet_count,
                        byte_count,
                        duration_sec,
                        duration_nsec,
                        buckets
                    }
                )
                .collect()
        )),
        vec((any::<u8>(), any::<u32>(), vec(arb_bucket(), 0..3)), 0..3).prop_map(|v| {
            MultipartReply::GroupDesc(
                v.into_iter()
                    .map(|(kind, group_id, buckets)| GroupDesc {
                        kind,
                        group_id,
                        buckets,
                    })
                    .collect(),
            )
        }),
        (
            any::<u32>(),
            any::<u32>(),
            any::<[u32; 4]>(),
            any::<[u32; 4]>()
        )
            .prop_map(|(types, capabilities, max_groups, actions)| {
                MultipartReply::GroupFeatures(GroupFeatures {
                    types,
                    capabilities,
                    max_groups,
                    actions,
                })
            }),
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u8>(),
            any::<u8>()
        )
            .prop_map(
                |(max_meter, band_types, capabilities, max_bands, max_color)| {
                    MultipartReply::MeterFeatures(MeterFeatures {
                        max_meter,
                        band_types,
                        capabilities,
                        max_bands,
                        max_color,
                    })
                }
            ),
        vec(arb_table_features(), 0..3).prop_map(MultipartReply::TableFeatures),
        vec(arb_port(), 0..3).prop_map(MultipartReply::PortDesc),
        (any::<u32>(), any::<u32>(), vec(any::<u8>(), 0..16))
            .prop_map(|(id, exp_type, data)| MultipartReply::Experimenter { id, exp_type, data }),
    ]
}

fn arb_message() -> impl Strategy<Value = Message> {
    let a = prop_oneof![
        prop::option::of(vec(any::<u32>(), 1..3)).prop_map(|versions| Message::Hello { versions }),
        (any::<u16>(), any::<u16>(), vec(any::<u8>(), 0..70)).prop_map(|(err_type, code, data)| {
            Message::Error {
                err_type,
                code,
                data,
            }
        }),
        vec(any::<u8>(), 0..20).prop_map(Message::EchoRequest),
        vec(any::<u8>(), 0..20).prop_map(Message::EchoReply),
        (any::<u32>(), any::<u32>(), vec(any::<u8>(), 0..20))
            .prop_map(|(id, exp_type, data)| Message::Experimenter { id, exp_type, data }),
        Just(Message::FeaturesRequest),
        (
            any::<u64>(),
            any::<u32>(),
            any::<u8>(),
            any::<u8>(),
            any::<u32>()
        )
            .prop_map(
                |(datapath_id, n_buffers, n_tables, auxiliary_id, capabilities)| {
                    Message::FeaturesReply {
                        datapath_id,
                        n_buffers,
                        n_tables,
                        auxiliary_id,
                        capabilities,
                    }
                }
            ),
        Just(Message::GetConfigRequest),
        (any::<u16>(), any::<u16>()).prop_map(|(flags, miss_send_len)| Message::GetConfigReply(
            SwitchConfig {
                flags,
                miss_send_len
            }
        )),
        (any::<u16>(), any::<u16>()).prop_map(|(flags, miss_send_len)| Message::SetConfig(
            SwitchConfig {
                flags,
                miss_send_len
            }
        )),
        (
            any::<(u32, u16, u8, u8, u64)>(),
            arb_match(),
            vec(any::<u8>(), 0..80)
        )
            .prop_map(
                |((buffer_id, total_len, reason, table_id, cookie), matcher, data)| {
                    Message::PacketIn(PacketIn {
                        buffer_id,
                        total_len,
                        reason,
                        table_id,
                        cookie,
                        matcher,
                        data,
                    })
                }
            ),
        (
            any::<(u64, u16, u8, u8, u32, u32)>(),
            any::<(u16, u16, u64, u64)>(),
            arb_match()
        )
            .prop_map(
                |(
                    (cookie, priority, reason, table_id, duration_sec, duration_nsec),
                    (idle_timeout, hard_timeout, packet_count, byte_count),
                    matcher,
                )| Message::FlowRemoved(FlowRemoved {
                    cookie,
                    priority,
                    reason,
                    table_id,
                    duration_sec,
                    duration_nsec,
                    idle_timeout,
                    hard_timeout,
                    packet_count,
                    byte_count,
                    matcher
                })
            ),
        (any::<u8>(), arb_port()).prop_map(|(reason, desc)| Message::PortStatus { reason, desc }),
        (
            any::<u32>(),
            any::<u32>(),
            vec(arb_action(), 0..4),
            vec(any::<u8>(), 0..80)
        )
            .prop_map(|(buffer_id, in_port, actions, data)| Message::PacketOut(
                PacketOut {
                    buffer_id,
                    in_port,
                    actions,
                    data
                }
            )),
    ];
    let b = prop_oneof![
        (
            any::<(u64, u64, u8, u8, u16, u16, u16)>(),
            any::<(u32, u32, u32, u16)>(),
            arb_match(),
            vec(arb_instruction(), 0..4)
        )
            .prop_map(
                |(
                    (cookie, cookie_mask, table_id, command, idle_timeout, hard_timeout, priority),
                    (buffer_id, out_port, out_group, flags),
                    matcher,
                    instructions,
                )| Message::FlowMod(FlowMod {
                    cookie,
                    cookie_mask,
                    table_id,
                    command,
                    idle_timeout,
                    hard_timeout,
                    priority,
                    buffer_id,
                    out_port,
                    out_group,
                    flags,
                    matcher,
                    instructions
                })
            ),
        (
            any::<u16>(),
            any::<u8>(),
            any::<u32>(),
            vec(arb_bucket(), 0..3)
        )
            .prop_map(
                |(command, kind, group_id, buckets)| Message::GroupMod(GroupMod {
                    command,
                    kind,
                    group_id,
                    buckets
                })
            ),
        (any::<u32>(), any::<[u8; 6]>(), any::<(u32, u32, u32)>()).prop_map(
            |(port_no, hw_addr, (config, mask, advertise))| Message::PortMod(PortMod {
                port_no,
                hw_addr,
                config,
                mask,
                advertise
            })
        ),
        (any::<u8>(), any::<u32>())
            .prop_map(|(table_id, config)| Message::TableMod { table_id, config }),
        (any::<u16>(), arb_request())
            .prop_map(|(flags, body)| Message::MultipartRequest { flags, body }),
        (any::<u16>(), arb_reply())
            .prop_map(|(flags, body)| Message::MultipartReply { flags, body }),
        Just(Message::BarrierRequest),
        Just(Message::BarrierReply),
        any::<u32>().prop_map(|port| Message::QueueGetConfigRequest { port }),
        any::<u32>().prop_map(|port| Message::QueueGetConfigReply { port }),
        (any::<u32>(), any::<u64>()).prop_map(|(role, generation_id)| Message::RoleRequest(Role {
            role,
            generation_id
        })),
        (any::<u32>(), any::<u64>()).prop_map(|(role, generation_id)| Message::RoleReply(Role {
            role,
            generation_id
        })),
        Just(Message::GetAsyncRequest),
        any::<[u32; 6]>().prop_map(|w| Message::GetAsyncReply(AsyncConfig {
            packet_in_mask: [w[0], w[1]],
            port_status_mask: [w[2], w[3]],
            flow_removed_mask: [w[4], w[5]]
        })),
        any::<[u32; 6]>().prop_map(|w| Message::SetAsync(AsyncConfig {
            packet_in_mask: [w[0], w[1]],
            port_status_mask: [w[2], w[3]],
            flow_removed_mask: [w[4], w[5]]
        })),
        (
            any::<u16>(),
            any::<u16>(),
            any::<u32>(),
            vec(any::<u8>(), 0..32)
        )
            .prop_map(|(command, flags, meter_id, bands)| Message::MeterMod {
                command,
                flags,
                meter_id,
                bands
            }),
    ];
    prop_oneof![a, b]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn every_message_round_trips(m in arb_message(), xid in any::<u32>()) {
        let bytes = m.to_bytes(xid);
        prop_assert_eq!(frame_len(&bytes), Some(Ok(bytes.len())));
        let (h, back) = decode(&bytes).map_err(|e| TestCaseError::fail(format!("{e} decoding {m:?}")))?;
        prop_assert_eq!(h.xid, xid);
        prop_assert_eq!(back, m);
    }

    #[test]
    fn arbitrary_bytes_never_panic(mut bytes in vec(any::<u8>(), 0..300), t in 0u8..32) {
        // Half the inputs get a plausible header, so the body decoders run.
        if bytes.len() >= 8 && t < 30 {
            bytes[0] = VERSION;
            bytes[1] = t;
            let len = bytes.len() as u16;
            bytes[2..4].copy_from_slice(&len.to_be_bytes());
        }
        if let Ok((h, m)) = decode(&bytes) {
            // What decodes re-encodes to something that decodes the same.
            let again = m.to_bytes(h.xid);
            let (_, m2) = decode(&again).map_err(|e| TestCaseError::fail(format!("{e}: {m:?}")))?;
            prop_assert_eq!(m2, m);
        }
    }

    #[test]
    fn truncations_are_errors_not_panics(m in arb_message(), cut in any::<prop::sample::Index>()) {
        let bytes = m.to_bytes(1);
        let n = cut.index(bytes.len());
        let mut short = bytes[..n].to_vec();
        if short.len() >= 4 {
            let len = short.len() as u16;
            short[2..4].copy_from_slice(&len.to_be_bytes());
        }
        let _ = decode(&short);
    }
}

#[test]
fn a_flow_mod_from_ovs_ofctl_decodes() {
    // ovs-ofctl -O OpenFlow13 add-flow br 'priority=100,icmp,in_port=1,actions=drop',
    // as captured from a real run: match in_port=1, eth_type=0x0800, ip_proto=1.
    let bytes: Vec<u8> = vec![
        0x04, 0x0e, 0x00, 0x48, 0x00, 0x00, 0x00, 0x02, // header, length 72
        0, 0, 0, 0, 0, 0, 0, 0, // cookie
        0, 0, 0, 0, 0, 0, 0, 0, // cookie mask
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x64, // table 0, ADD, timeouts, priority 100
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // buffer id, out_port any
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, // out_group any, flags, pad
        0x00, 0x01, 0x00, 0x17, // match OXM, length 23
        0x80, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, // in_port=1
        0x80, 0x00, 0x0a, 0x02, 0x08, 0x00, // eth_type=0x0800
        0x80, 0x00, 0x14, 0x01, 0x01, // ip_proto=1
        0x00, // padding to 8
    ];
    let (h, m) = decode(&bytes).expect("decodes");
    assert_eq!(h.xid, 2);
    let Message::FlowMod(f) = m else {
        panic!("not a flow mod")
    };
    assert_eq!(f.priority, 100);
    assert_eq!(f.matcher.fields.len(), 3);
    assert!(f.instructions.is_empty());
    let dp = convert::match_to_dp(&f.matcher).expect("valid match");
    use vepa_dataplane::flow::Field;
    assert_eq!(dp.get(Field::InPort), Some((1, 0xffff_ffff)));
    assert_eq!(dp.get(Field::IpProto), Some((1, 0xff)));
    assert_eq!(convert::match_from_dp(&dp), f.matcher);
}

#[test]
fn unsupported_things_get_the_right_error() {
    use crate::err::*;
    use convert::*;
    let remark = [0u8, 2, 0, 16, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        meter_to_dp(meter_flags::PKTPS, 1, &remark).err(),
        Some(DecodeError::new(
            METER_MOD_FAILED,
            METER_MOD_FAILED_BAD_BAND
        ))
    );
    let mpls = vec![Action::PushMpls(0x8847)];
    assert_eq!(
        actions_to_dp(&mpls, 3, false).err(),
        Some(DecodeError::new(BAD_ACTION, BAD_ACTION_BAD_TYPE))
    );
    let out = vec![Action::Output {
        port: 9,
        max_len: 0,
    }];
    assert_eq!(
        actions_to_dp(&out, 3, false).err(),
        Some(DecodeError::new(BAD_ACTION, BAD_ACTION_BAD_OUT_PORT))
    );
    let sctp = Match {
        fields: vec![Oxm::basic(17, vec![0, 80], None)],
    };
    assert_eq!(
        match_to_dp(&sctp).err(),
        Some(DecodeError::new(BAD_MATCH, BAD_MATCH_BAD_FIELD))
    );
    let tcp_no_prereq = Match {
        fields: vec![Oxm::basic(14, vec![0, 80], None)],
    };
    assert_eq!(
        match_to_dp(&tcp_no_prereq).err(),
        Some(DecodeError::new(BAD_MATCH, BAD_MATCH_BAD_PREREQ))
    );
    assert_eq!(
        decode(&[4, 99, 0, 8, 0, 0, 0, 1]).err(),
        Some(DecodeError::new(BAD_REQUEST, BAD_REQUEST_BAD_TYPE))
    );
    assert_eq!(
        decode(&[1, 5, 0, 8, 0, 0, 0, 1]).err(),
        Some(DecodeError::new(BAD_REQUEST, BAD_REQUEST_BAD_VERSION))
    );
}

#[test]
fn fixed_size_names_read_back_the_same() {
    use crate::types::{get_str, put_str};
    for raw in [
        vec![1u8; 16],
        b"abcdefghijklmno\0".to_vec(),
        // Invalid UTF-8 that widens when replaced, and a character cut at the end.
        vec![0xff; 16],
        "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}"
            .as_bytes()
            .to_vec(),
    ] {
        let s = get_str(&raw);
        let mut out = Vec::new();
        put_str(&mut out, &s, 16);
        assert_eq!(out.len(), 16);
        assert_eq!(get_str(&out), s, "{raw:?}");
    }
}
