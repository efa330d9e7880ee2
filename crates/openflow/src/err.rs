//! `ofp_error_type` and the codes vepa sends (OpenFlow 1.3 §7.4.4), and
//! the error a message that cannot be taken decodes to.
#![allow(missing_docs)]

/// Why a message could not be taken: the error type and code OpenFlow
/// says to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("OpenFlow error type {err_type}, code {code}")]
pub struct DecodeError {
    pub err_type: u16,
    pub code: u16,
}

impl DecodeError {
    pub const fn new(err_type: u16, code: u16) -> DecodeError {
        DecodeError { err_type, code }
    }
}

pub const HELLO_FAILED: u16 = 0;
pub const HELLO_FAILED_INCOMPATIBLE: u16 = 0;

pub const BAD_REQUEST: u16 = 1;
pub const BAD_REQUEST_BAD_VERSION: u16 = 0;
pub const BAD_REQUEST_BAD_TYPE: u16 = 1;
pub const BAD_REQUEST_BAD_MULTIPART: u16 = 2;
pub const BAD_REQUEST_BAD_EXPERIMENTER: u16 = 3;
pub const BAD_REQUEST_EPERM: u16 = 5;
pub const BAD_REQUEST_BAD_LEN: u16 = 6;
pub const BAD_REQUEST_BUFFER_UNKNOWN: u16 = 8;
pub const BAD_REQUEST_BAD_TABLE_ID: u16 = 9;
pub const BAD_REQUEST_IS_SLAVE: u16 = 10;
pub const BAD_REQUEST_BAD_PORT: u16 = 11;
pub const BAD_REQUEST_BAD_PACKET: u16 = 12;

pub const BAD_ACTION: u16 = 2;
pub const BAD_ACTION_BAD_TYPE: u16 = 0;
pub const BAD_ACTION_BAD_LEN: u16 = 1;
pub const BAD_ACTION_BAD_EXPERIMENTER: u16 = 2;
pub const BAD_ACTION_BAD_OUT_PORT: u16 = 4;
pub const BAD_ACTION_BAD_ARGUMENT: u16 = 5;
pub const BAD_ACTION_BAD_OUT_GROUP: u16 = 9;
pub const BAD_ACTION_MATCH_INCONSISTENT: u16 = 10;
pub const BAD_ACTION_BAD_SET_TYPE: u16 = 13;
pub const BAD_ACTION_BAD_SET_LEN: u16 = 14;
pub const BAD_ACTION_BAD_SET_ARGUMENT: u16 = 15;

pub const BAD_INSTRUCTION: u16 = 3;
pub const BAD_INSTRUCTION_UNKNOWN_INST: u16 = 0;
pub const BAD_INSTRUCTION_UNSUP_INST: u16 = 1;
pub const BAD_INSTRUCTION_BAD_TABLE_ID: u16 = 2;
pub const BAD_INSTRUCTION_BAD_EXPERIMENTER: u16 = 5;
pub const BAD_INSTRUCTION_BAD_LEN: u16 = 7;

pub const BAD_MATCH: u16 = 4;
pub const BAD_MATCH_BAD_TYPE: u16 = 0;
pub const BAD_MATCH_BAD_LEN: u16 = 1;
pub const BAD_MATCH_BAD_DL_ADDR_MASK: u16 = 3;
pub const BAD_MATCH_BAD_NW_ADDR_MASK: u16 = 4;
pub const BAD_MATCH_BAD_FIELD: u16 = 6;
pub const BAD_MATCH_BAD_VALUE: u16 = 7;
pub const BAD_MATCH_BAD_MASK: u16 = 8;
pub const BAD_MATCH_BAD_PREREQ: u16 = 9;
pub const BAD_MATCH_DUP_FIELD: u16 = 10;

pub const FLOW_MOD_FAILED: u16 = 5;
pub const FLOW_MOD_FAILED_UNKNOWN: u16 = 0;
pub const FLOW_MOD_FAILED_TABLE_FULL: u16 = 1;
pub const FLOW_MOD_FAILED_BAD_TABLE_ID: u16 = 2;
pub const FLOW_MOD_FAILED_OVERLAP: u16 = 3;
pub const FLOW_MOD_FAILED_EPERM: u16 = 4;
pub const FLOW_MOD_FAILED_BAD_COMMAND: u16 = 6;

pub const GROUP_MOD_FAILED: u16 = 6;
pub const GROUP_MOD_FAILED_GROUP_EXISTS: u16 = 0;
pub const GROUP_MOD_FAILED_INVALID_GROUP: u16 = 1;
pub const GROUP_MOD_FAILED_OUT_OF_GROUPS: u16 = 3;
pub const GROUP_MOD_FAILED_CHAINING_UNSUPPORTED: u16 = 5;
pub const GROUP_MOD_FAILED_LOOP: u16 = 7;
pub const GROUP_MOD_FAILED_UNKNOWN_GROUP: u16 = 8;
pub const GROUP_MOD_FAILED_BAD_TYPE: u16 = 10;
pub const GROUP_MOD_FAILED_BAD_COMMAND: u16 = 11;
pub const GROUP_MOD_FAILED_BAD_BUCKET: u16 = 12;
pub const GROUP_MOD_FAILED_BAD_WATCH: u16 = 13;

pub const PORT_MOD_FAILED: u16 = 7;
pub const PORT_MOD_FAILED_BAD_PORT: u16 = 0;
pub const PORT_MOD_FAILED_BAD_CONFIG: u16 = 2;

pub const TABLE_MOD_FAILED: u16 = 8;
pub const TABLE_MOD_FAILED_BAD_TABLE: u16 = 0;

pub const SWITCH_CONFIG_FAILED: u16 = 10;
pub const SWITCH_CONFIG_FAILED_BAD_FLAGS: u16 = 0;

pub const ROLE_REQUEST_FAILED: u16 = 11;
pub const ROLE_REQUEST_FAILED_STALE: u16 = 0;
pub const ROLE_REQUEST_FAILED_BAD_ROLE: u16 = 2;

pub const METER_MOD_FAILED: u16 = 12;
pub const METER_MOD_FAILED_METER_EXISTS: u16 = 1;
pub const METER_MOD_FAILED_INVALID_METER: u16 = 2;
pub const METER_MOD_FAILED_UNKNOWN_METER: u16 = 3;
pub const METER_MOD_FAILED_BAD_COMMAND: u16 = 4;
pub const METER_MOD_FAILED_BAD_FLAGS: u16 = 5;
pub const METER_MOD_FAILED_BAD_RATE: u16 = 6;
pub const METER_MOD_FAILED_BAD_BAND: u16 = 8;
pub const METER_MOD_FAILED_OUT_OF_METERS: u16 = 10;
pub const METER_MOD_FAILED_OUT_OF_BANDS: u16 = 11;

pub const TABLE_FEATURES_FAILED: u16 = 13;
pub const TABLE_FEATURES_FAILED_EPERM: u16 = 5;
