//! The kernel differential test: the same picture with kernel macvlans and
//! a Linux bridge relay, and with vepa; the reachability matrices must be
//! equal, and equal to what docs/design.md §2 measured. vepa runs twice:
//! with AF_PACKET ports and with AF_XDP ports (`--xdp`).

use vepa_itest::evb::{expected_reach, show, Backend, Evb};
use vepa_itest::{reach_matrix, require_root};

fn check(mode: &str, relay: bool) {
    require_root();
    let kernel = {
        let evb = Evb::build(Backend::Kernel, mode, relay);
        reach_matrix(&evb.endpoints())
    };
    let vepa = {
        let evb = Evb::build(Backend::Vepa, mode, relay);
        reach_matrix(&evb.endpoints())
    };
    let xdp = {
        let evb = Evb::build(Backend::VepaXdp, mode, relay);
        reach_matrix(&evb.endpoints())
    };
    let truth: Vec<Vec<bool>> = (0..4)
        .map(|a| {
            (0..4)
                .map(|b| a == b || expected_reach(mode, relay, a, b))
                .collect()
        })
        .collect();
    assert_eq!(
        kernel,
        truth,
        "{mode} relay={relay}: the kernel itself{}",
        show(&kernel)
    );
    assert_eq!(
        vepa,
        kernel,
        "{mode} relay={relay}: vepa{} kernel{}",
        show(&vepa),
        show(&kernel)
    );
    assert_eq!(
        xdp,
        kernel,
        "{mode} relay={relay}: vepa with AF_XDP ports{} kernel{}",
        show(&xdp),
        show(&kernel)
    );
}

#[test]
fn veb_relay_on() {
    check("veb", true);
}

#[test]
fn veb_relay_off() {
    check("veb", false);
}

#[test]
fn vepa_relay_on() {
    check("vepa", true);
}

#[test]
fn vepa_relay_off() {
    check("vepa", false);
}

#[test]
fn private_relay_on() {
    check("private", true);
}

#[test]
fn private_relay_off() {
    check("private", false);
}
