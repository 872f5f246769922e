#!/usr/bin/env python3
"""Removes each sandbox guard in turn and shows that a test fails without it.

Not a CI step (each row rebuilds the host: about a minute each on 2 cores).
For every row: apply one edit that disables the guard, run the test that
holds it, expect a *test failure* (not a build error), restore the file.

    python3 scripts/guard-check.py            # every row
    python3 scripts/guard-check.py body-cap   # rows whose id contains this

Exit status 0 only when every guard's removal was caught. Run it on a clean
work tree: it edits files in place and restores them, even on Ctrl-C.
"""
import os, signal, subprocess, sys, time

H = "host/src/"
# Longer than any guarded test takes (the build runs before, untimed); a
# test still running then has hung.
HANG_SECONDS = 300
# The integration tests are one binary (tests/conformance/tests/integration);
# a row names the module that holds its test.
INTEGRATION = ["-p", "psa-conformance", "--test", "integration"]
SANDBOX = "sandbox"
SERVERS = "hostile_servers"
# `psa-host:lib` names a unit test of the library by its full path;
# `psa-host-cli:cli` a test of the CLI's own test binary (host/cli/tests/cli.rs,
# which runs the psa-host binary and compiles in its progress module).
HOST_LIB = "psa-host:lib"
HOST_CLI = "psa-host-cli:cli"
# The compiled-connector cache's tests run the bundled connector: a module of
# the integration binary.
HOST_CACHE = "compiled_cache"
CLI = "host/cli/src/"
# The Autotask connector's unit tests (plugin/autotask, scripted answers).
AUTOTASK = "autotask:lib"
AT = "plugin/autotask/src/"
# The HaloPSA connector's unit tests (plugin/halopsa, scripted answers).
HALOPSA = "halopsa:lib"
HALO = "plugin/halopsa/src/"
# The SDK's unit tests (plugin/sdk).
SDK = "sdk:lib"
# The connector template's unit tests (template/, scripted answers).
TEMPLATE = "template:lib"
SD = "plugin/sdk/src/"


def target(module):
    """The cargo arguments that build a row's test, and its name's prefix."""
    if module == HOST_LIB:
        return ["-p", "psa-host", "--lib"], ""
    if module == HOST_CLI:
        return ["-p", "psa-host-cli", "--test", "cli"], ""
    if module == AUTOTASK:
        return ["-p", "autotask-connector", "--lib"], ""
    if module == HALOPSA:
        return ["-p", "halopsa-connector", "--lib"], ""
    if module == SDK:
        return ["-p", "psa-connector-sdk", "--lib"], ""
    if module == TEMPLATE:
        return ["-p", "psa-connector-template", "--lib"], ""
    return INTEGRATION, module + "::"

# id, file, text to find (exactly once), replacement, test module, test name
ROWS = [
    ("allow-list", H + "hooks.rs", "if !self.allowed.permits(scheme, &host, port) {", "if false {",
     SANDBOX, "a_host_outside_the_allow_list_is_refused_and_named"),
    ("https-only", H + "hooks.rs", "if scheme == Scheme::Http && !self.transport.allow_loopback {", "if false {",
     SANDBOX, "loopback_is_refused_without_the_switch"),
    ("egress-after-dns", H + "egress.rs", "match permitted(a.ip(), allow_loopback) {", "match Ok::<(), AddressClass>(()) {",
     SANDBOX, "the_metadata_address_through_a_dns_name_is_refused"),
    ("egress-literal", H + "egress.rs", "match permitted(a.ip(), allow_loopback) {", "match Ok::<(), AddressClass>(()) {",
     SANDBOX, "the_metadata_address_is_refused"),
    ("cross-origin-redirect", H + "hooks.rs", "if !resp.status().is_redirection() {", "if true {",
     SANDBOX, "a_redirect_to_another_host_is_refused_not_followed"),
    ("forbidden-headers", H + "hooks.rs", "FORBIDDEN_REQUEST_HEADERS.contains(&name.as_str())", "false && FORBIDDEN_REQUEST_HEADERS.contains(&name.as_str())",
     SANDBOX, "forbidden_request_headers_are_refused"),
    ("request-body-cap", H + "outbound.rs", "if !this.budget.take(&frame) {\n                    this.cut.store",
     "if false && !this.budget.take(&frame) {\n                    this.cut.store",
     SANDBOX, "an_upload_is_cut_at_the_request_body_cap"),
    ("response-header-cap", H + "outbound.rs", ".max_header_size(lim.max_response_header_bytes)", ".max_header_size(64 << 20)",
     SANDBOX, "oversized_response_headers_are_refused"),
    ("declared-body-cap", H + "outbound.rs", "if len > max {", "if false {",
     SERVERS, "a_declared_huge_body_is_refused_before_reading"),
    ("streamed-body-cap", H + "outbound.rs", "if !this.budget.take(&frame) {\n                    tracing::warn!(\"response body exceeded",
     "if false && !this.budget.take(&frame) {\n                    tracing::warn!(\"response body exceeded",
     SERVERS, "an_endless_body_is_cut_at_the_cap"),
    ("between-bytes-timeout", H + "outbound.rs", "Poll::Ready(()) => Poll::Ready(Some(Err(Error::ConnectionReadTimeout))),", "Poll::Ready(()) => Poll::Pending,",
     SERVERS, "a_stalled_body_is_cut_by_the_between_bytes_timeout"),
    # The CPU deadline and the I/O deadline back each other up (the guest
    # yields every tick, so the outer timer also stops a loop): removing
    # both must be caught.
    ("cpu-and-io-deadline", [(H + "runtime/instance.rs", "Ok(wasmtime::UpdateDeadline::Interrupt)\n            }\n        });",
                              "Ok(wasmtime::UpdateDeadline::Yield(1))\n            }\n        });"),
                             (H + "runtime/instance.rs", "_ = tokio::time::sleep_until(deadline) => {", "_ = std::future::pending::<()>() => {")],
     None, None, SANDBOX, "an_infinite_loop_is_stopped_at_the_deadline"),
    ("yield-every-tick", H + "runtime/instance.rs", "Ok(wasmtime::UpdateDeadline::Yield(1))\n            } else {",
     "Ok(wasmtime::UpdateDeadline::Continue(1))\n            } else {",
     SANDBOX, "a_spinning_connector_does_not_starve_other_sessions"),
    ("io-deadline", H + "runtime/instance.rs", "_ = tokio::time::sleep_until(deadline) => {", "_ = std::future::pending::<()>() => {",
     SANDBOX, "a_server_that_never_answers_is_cut_at_the_call_deadline"),
    # The per-memory cap and the cap on all memories together both stop a
    # single growing memory: removing both must be caught.
    ("memory-cap", [(H + "ctx.rs", ".memory_size(limits.memory_bytes)", ".memory_size(usize::MAX)"),
                    (H + "ctx.rs", "if total > self.memory_cap {", "if false {")],
     None, None, SANDBOX, "unbounded_allocation_hits_the_memory_cap"),
    ("stack-overflow-message", H + "runtime/instance.rs", "Some(Trap::StackOverflow) => \"stack overflow (runaway recursion)\".to_string(),",
     "Some(Trap::StackOverflow) => \"trap\".to_string(),",
     SANDBOX, "runaway_recursion_is_a_clear_crash"),
    ("instance-limit", H + "runtime/host.rs", ".max_core_instances_per_component(per(limits.max_instances))", ".max_core_instances_per_component(1000)",
     SANDBOX, "instance_and_table_limits_are_enforced"),
    ("page-cap", H + "runtime/session.rs", "Ok(page) if page.customers.len() > max =>", "Ok(page) if false && page.customers.len() > max =>",
     SANDBOX, "a_page_larger_than_the_limit_is_refused"),
    ("dead-session", H + "runtime/instance.rs", "if let Some(reason) = &self.closed {", "if let Some(reason) = None::<&String> {",
     SANDBOX, "a_trap_closes_the_session_and_says_so"),
    ("fuel", H + "runtime/host.rs", "config.consume_fuel(options.limits.fuel.is_some());", "config.consume_fuel(false);",
     SANDBOX, "fuel_makes_runaway_loops_stop_deterministically"),
    ("sha256-pin", H + "runtime/host.rs", "if actual != expected {", "if false {",
     SANDBOX, "a_pinned_hash_is_enforced"),
    ("contract-version", H + "contract/mod.rs", "if let Some(found) = exported.iter().find(", "if let Some(found) = None::<&String>.into_iter().find(",
     SANDBOX, "an_unsupported_contract_version_is_refused_naming_both"),
    ("refusal-not-retried", H + "import.rs", "if self.refused_last_call() { None }", "if false { None }",
     SANDBOX, "a_sandbox_refusal_is_not_retried"),
    ("guest-output-scrub", H + "guest_output.rs", "text = crate::redact::scrub(&text, secrets);", "let _ = secrets;",
     "guest_output", "printed_secrets_are_scrubbed_from_the_log"),
    ("guest-output-cap", H + "guest_output.rs", "let take = room.min(data.len());", "let take = data.len();",
     "guest_output", "guest_output_is_capped_per_call"),
    ("private-ca-roots", H + "outbound.rs", "for (i, cert) in extra_roots.iter().enumerate() {", "for (i, cert) in extra_roots.iter().enumerate().take(0) {",
     "private_ca", "the_import_needs_the_private_ca_and_works_with_it"),
    ("rate-limit-hold", H + "hooks.rs", "let held = pacer.rate_limited(&origin, asked.unwrap_or(hold));",
     "let held = asked.unwrap_or(hold);",
     "halo_resilience", "a_429_holds_back_every_session_to_that_instance"),
    # What a server or a connector can make the host hold, and for how long.
    ("retry-after-clamp", H + "pacing.rs", "let hold = wait.min(self.max_hold);", "let hold = wait;",
     "host_limits", "hostile_retry_after_values_are_clamped_and_never_crash_the_host"),
    ("retry-after-no-overflow", [(H + "pacing.rs", "let hold = wait.min(self.max_hold);", "let hold = wait;"),
                                 (H + "pacing.rs", "let until = now.checked_add(hold).unwrap_or(now);", "let until = now + hold;")],
     None, None, "host_limits", "hostile_retry_after_values_are_clamped_and_never_crash_the_host"),
    ("wait-too-long", H + "retry.rs", "Some(asked) if *asked > left => return Err(GiveUp::WaitTooLong { asked: *asked, left }),", "",
     "host_limits", "a_retry_after_beyond_the_budget_ends_the_import_at_once_naming_the_wait"),
    ("resource-table-cap", H + "ctx.rs", "table.set_max_capacity(limits.max_resource_handles);", "let _ = &mut table;",
     "host_limits", "a_connector_hoarding_header_sets_is_stopped_and_the_host_stays_small"),
    ("header-size-cap", H + "ctx.rs", "http.set_field_size_limit(limits.max_header_bytes);", "let _ = &mut http;",
     "host_limits", "an_oversized_header_set_ends_the_session_with_a_typed_error"),
    ("in-flight-cap", H + "hooks.rs", "let Some(slot) = self.in_flight.take(self.max_in_flight) else {",
     "let Some(slot) = self.in_flight.take(usize::MAX) else {",
     "host_limits", "requests_beyond_the_in_flight_limit_are_refused"),
    ("import-bytes-cap", H + "import.rs", "if held > max_bytes {", "if false {",
     "host_limits", "an_endless_import_stops_at_its_byte_limit"),
    ("pacing-credit-blocked-only", H + "runtime/instance.rs", "CallHook::ReturningFromHost | CallHook::CallingWasm => clock.set_in_host(false),",
     "CallHook::ReturningFromHost | CallHook::CallingWasm => clock.set_in_host(true),",
     "host_limits", "a_pacing_wait_the_guest_does_not_block_on_does_not_stretch_the_deadline"),
    ("pacing-credit-in-host", H + "pacing.rs", "if st.accruing() {", "if st.waiting > 0 {",
     HOST_LIB, "pacing::tests::credit_counts_overlapping_waits_once_only_while_the_guest_is_blocked_and_is_capped"),
    ("pacing-credit-cap", H + "pacing.rs", "st.credited.saturating_add(ongoing).min(self.cap)", "st.credited.saturating_add(ongoing)",
     HOST_LIB, "pacing::tests::credit_counts_overlapping_waits_once_only_while_the_guest_is_blocked_and_is_capped"),
    ("memory-cap-all-memories", H + "ctx.rs", "if total > self.memory_cap {", "if false {",
     HOST_LIB, "ctx::tests::the_memory_cap_holds_for_all_memories_together"),
    # The connector's own guards (plugin/halopsa/src, and the SDK's client in
    # plugin/sdk/src; the bundled component is rebuilt by the host's build script).
    ("content-length", "plugin/sdk/src/http.rs",
     'entries.push(("content-length".to_string(), body.len().to_string().into_bytes()));', "let _ = body;",
     "strict_server", "token_exchange_and_ticket_against_a_strict_server"),
    ("refused-as-sent-message", "plugin/halopsa/src/auth.rs", "if refused_as_sent(status) {", "if false {",
     "strict_server", "a_411_on_the_token_endpoint_names_the_proxy_not_a_wrong_url"),
    ("adaptive-page-size", "plugin/halopsa/src/pagination.rs", "} else if capped {", "} else if false {",
     "halo_paging", "every_customer_once_when_halo_counts_offsets_from_the_asked_size"),
    # Issue 13: Halo's tickets (plugin/halopsa/src/tickets.rs) and changed-since import.
    ("halo-ticket-key-verified", HALO + "tickets.rs",
     'get("third_party_id_string").map(|v| v.as_str().map(str::trim) == Some(key))',
     'get("third_party_id_string").map(|_| true)',
     HALOPSA, "tickets::tests::find_page_verifies_client_key_and_closed"),
    ("halo-ticket-find-pages-cap", HALO + "tickets.rs", "if page_no >= MAX_FIND_PAGES {", "if false {",
     HALOPSA, "tickets::tests::find_open_with_a_halo_that_ignores_the_key_reads_every_page"),
    ("halo-ticket-find-details-cap", HALO + "tickets.rs", "if unknown.len() > MAX_FIND_DETAILS {", "if false {",
     HALOPSA, "tickets::tests::find_open_confirms_rows_without_the_key_field"),
    ("halo-dedup-key-checked", HALO + "tickets.rs", "    if values::dedup_key_ok(key) {", "    if true {",
     HALOPSA, "tickets::tests::ticket_body_carries_key_text_html_and_integers"),
    ("halo-id-int32", HALO + "tickets.rs", "values::positive_id_i32(raw.trim()).map(i64::from)", "raw.trim().parse::<i64>().ok()",
     HALOPSA, "tickets::tests::ticket_body_carries_key_text_html_and_integers"),
    ("halo-options-cap", HALO + "tickets.rs", "        if out.len() >= MAX_TICKET_OPTIONS {\n            return Err(Error::protocol(endpoint, msg::too_many_options(MAX_TICKET_OPTIONS)));\n        }\n", "",
     HALOPSA, "tickets::tests::options_by_kind"),
    ("halo-token-size", HALO + "auth.rs", "if token.len() > MAX_TOKEN_BYTES {", "if false {",
     HALOPSA, "auth::tests::success"),
    ("halo-changed-since-probe", HALO + "session.rs", "Ok(page.record_count == 0)", "Ok(true)",
     HALOPSA, "session::tests::changed_since_with_a_halo_that_ignores_it_lists_everyone_and_says_so"),
    # Issue 10, 4.3: the compiled-connector cache.
    ("cache-mac-covers-component", H + "cache.rs", "m.update(sha256.as_bytes());", "let _ = sha256;",
     "cache_integrity", "another_components_entry_renamed_to_the_pinned_key_does_not_run"),
    ("cache-mac-verified", H + "cache.rs", "self.mac(sha256, &data).verify_slice(&expected).map_err(",
     "self.mac(sha256, &data).verify_slice(&expected).or(Ok::<(), hmac::digest::MacError>(())).map_err(",
     HOST_CACHE, "a_corrupt_entry_is_rebuilt_not_trusted"),
    ("cache-dir-private", H + "cache.rs", "check_private(&dir, false)?;", "let _ = check_private(&dir, false);",
     HOST_CACHE, "a_cache_directory_others_can_write_is_refused"),
    ("cache-dir-owner", H + "cache.rs", "if owner != euid {", "if false {",
     HOST_LIB, "cache::tests::a_directory_or_key_of_another_user_or_open_to_others_is_refused"),
    ("cache-key-private", H + "cache.rs", "check_private(path, true)?;", "let _ = check_private(path, true);",
     HOST_CACHE, "a_key_file_others_can_read_or_that_lies_in_the_cache_is_refused"),
    ("cache-key-outside", H + "cache.rs", "if abs_key.starts_with(&abs_dir) {", "if false {",
     HOST_CACHE, "a_key_file_others_can_read_or_that_lies_in_the_cache_is_refused"),
    ("cache-no-shared-fallback", H + "cache.rs", "compiled connectors are not cached (every load compiles)\");\n    None",
     "compiled connectors are not cached (every load compiles)\");\n    Some(std::env::temp_dir().join(\"psa-host-cache\"))",
     HOST_CLI, "a_cache_directory_others_can_write_stops_the_cli_with_the_fix"),
    # 4.5: output that others open.
    ("csv-formula", CLI + "output.rs", ".map(|cell| csv_cell(cell).into_owned()),", ".map(|cell| cell.to_string()),",
     HOST_CLI, "csv_cells_are_not_formulas_and_printed_text_has_no_control_characters"),
    ("escape-control", H + "escape.rs", "if !text.chars().any(is_unsafe) {", "if true {",
     HOST_CLI, "csv_cells_are_not_formulas_and_printed_text_has_no_control_characters"),
    ("escape-warnings", CLI + "output.rs", 'writeln!(out, "warning [{}]: {}", t(&w.code), t(&w.message))?;',
     'writeln!(out, "warning [{}]: {}", w.code, w.message)?;',
     HOST_CLI, "csv_cells_are_not_formulas_and_printed_text_has_no_control_characters"),
    ("escape-progress-reason", CLI + "progress.rs", "    t(&w.reason)\n", "    std::borrow::Cow::Borrowed(w.reason.as_str())\n",
     HOST_CLI, "a_wait_reason_from_the_connector_is_escaped_in_the_progress_line"),
    # Off a terminal the progress is plain lines, no bar drawn with ANSI
    # sequences and carriage returns (or, from indicatif, nothing at all).
    ("progress-plain-off-terminal", CLI + "progress.rs", "Self::new(std::io::stderr().is_terminal())", "Self::new(true)",
     HOST_CLI, "piped_progress_is_plain_lines_with_the_total_and_the_rate_limit_wait"),
    ("escape-guest-output", H + "guest_output.rs", "let mut text = crate::escape::for_terminal(&text).into_owned();", "let mut text = text;",
     "guest_output", "control_characters_in_guest_output_are_escaped_in_the_log"),
    # 4.6: refusal texts and split secrets.
    ("refusal-scrub", H + "hooks.rs", "let denial = denial.scrubbed(&self.secrets);", "let denial = denial;",
     "refusals", "a_secret_in_a_refused_host_name_is_scrubbed_from_check_errors_and_log"),
    # A secret spelled across a refusal's fields (host, `:`, port) is in no
    # one field: the sentence is checked too.
    ("refusal-scrub-across-fields", H + "hooks.rs", "if crate::redact::scrub(&sentence, secrets) != sentence {", "if false {",
     HOST_LIB, "hooks::tests::a_secret_spelled_across_fields_redacts_them_all"),
    ("connector-error-fields-scrub", H + "types.rs", "ConnectorError::Unreachable { host: s(host), stage, message: s(message) }",
     "ConnectorError::Unreachable { host, stage, message: s(message) }",
     "refusals", "a_secret_in_a_refused_host_name_is_scrubbed_from_check_errors_and_log"),
    ("refusal-log-cap", H + "hooks.rs", "if self.logged.fetch_add(1, Ordering::Relaxed) < LOGGED_REFUSALS_PER_CALL {", "if true {",
     "refusals", "refusal_log_lines_are_capped_per_call"),
    ("split-secret-across-calls", H + "guest_output.rs", "let tail = crate::redact::unfinished_secret(&text, secrets);", "let tail = 0;",
     "guest_output", "a_secret_split_across_two_calls_is_scrubbed"),
    ("split-secret-at-cap", H + "guest_output.rs", "let tail = crate::redact::unfinished_secret(&text, secrets);", "let tail = 0;",
     "guest_output", "a_secret_cut_by_the_output_cap_shows_no_part_of_it"),
    # 4.7: smaller gaps.
    ("wildcard-public-suffix", H + "allowed_hosts.rs", "if is_public_suffix(&origin.host) {", "if false {",
     HOST_LIB, "allowed_hosts::tests::declared_entries_as_the_table_says"),
    ("egress-6to4", H + "egress.rs", "if seg[0] == 0x2002 {", "if false {",
     "sandbox_network", "a_6to4_address_embedding_an_internal_ipv4_is_refused"),
    ("egress-teredo", H + "egress.rs", "if seg[0] == 0x2001 && seg[1] == 0 {", "if false {",
     "sandbox_network", "a_teredo_address_embedding_an_internal_ipv4_is_refused"),
    ("loopback-127.0.0.1-only", H + "egress.rs", "&& matches!(ip.to_canonical(),", "&& true || matches!(ip.to_canonical(),",
     "sandbox_network", "allow_loopback_admits_127_0_0_1_only"),
    ("tls-ipv6-name", H + "outbound.rs", "let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(&host);",
     "let bare: &str = &host;",
     "sandbox_network", "https_to_an_ipv6_literal_works"),
    ("declared-hosts-frozen-shown", H + "runtime/connector.rs", "info.allowed_hosts = declared.iter().map(|o| o.to_string()).collect();",
     "let _ = &mut info;",
     "sandbox_network", "declared_hosts_are_read_once_at_load_and_frozen"),
    # Issue 12: the test-only port mapping (DnsOverrides::connect_to) comes
    # after the allow-list, which still judges the URL's name and port; its
    # target address is checked like any resolved one.
    ("allow-list-before-port-map", H + "hooks.rs", "if !self.allowed.permits(scheme, &host, port) {", "if false {",
     "autotask_zones", "the_allow_list_judges_the_original_name_and_port_not_the_mapped_destination"),
    ("egress-port-map-target", H + "egress.rs", "match permitted(a.ip(), allow_loopback) {", "match Ok::<(), AddressClass>(()) {",
     HOST_LIB, "egress::tests::a_port_mapping_applies_to_its_name_and_port_only_and_is_checked_like_dns"),
    # Issue 12: the Autotask connector's own guards. The zone the lookup names
    # is used only under autotask.net (the credentials go there); next-page
    # links and cursors stay on a zone host; a company twice stops the import.
    # Contract 0.2.0 in the SDK: form values refused, a cleared field not
    # defaulted, PSA error texts capped, tenant conflicts stripped.
    ("sdk-choice-refused", SD + "form.rs", ".find(|(value, _)| value.eq_ignore_ascii_case(raw))", ".find(|_| true)",
     SDK, "form::tests::choices"),
    ("sdk-number-range", SD + "form.rs", "Some(v) if v < min || v > max => {", "Some(v) if false => {",
     SDK, "form::tests::numbers"),
    ("sdk-cleared-not-defaulted", SD + "form.rs", "            Entry::Cleared => None,\n", "            Entry::Cleared => spec.default,\n",
     SDK, "form::tests::absent_is_told_from_cleared"),
    ("sdk-error-messages-count", SD + "http.rs", "        .take(20)\n", "        .take(usize::MAX)\n",
     SDK, "http::tests::error_bodies"),
    ("sdk-error-messages-length", SD + "http.rs", ".map(|m| m.chars().take(1000).collect())", ".map(|m| m.to_string())",
     SDK, "http::tests::error_bodies"),
    ("sdk-tenant-conflict-stripped", SD + "tenants.rs", "c.m365_tenants.retain(|l| !strip.contains(&l.tenant_id));",
     "c.m365_tenants.retain(|_| true);", SDK, "tenants::tests::one_page_conflicts_go_to_nobody"),
    ("autotask-zone-host", AT + "api.rs", '&& (host == "autotask.net" || host.ends_with(".autotask.net"));',
     "&& !host.is_empty();",
     AUTOTASK, "api::tests::zone_hosts"),
    ("autotask-next-page-on-zone", AT + "customers.rs", "Some(link) => match cursor::next_link(zone, link) {",
     "Some(link) => match Ok::<String, CursorError>(link.to_string()) {",
     AUTOTASK, "customers::tests::a_next_page_off_the_zone_is_refused"),
    ("autotask-cursor-on-zone", AT + "customers.rs",
     "if api::zone_base(&origin(c), &cfg.lookup, cfg.lookup_host.as_deref()).is_none() {", "if false {",
     AUTOTASK, "customers::tests::a_next_page_off_the_zone_is_refused"),
    ("autotask-duplicate-company", AT + "customers.rs", "let earlier = self.seen.get(&id).is_some_and(|k| k != key);",
     "let earlier = false;",
     AUTOTASK, "customers::tests::a_company_twice_is_an_error"),
    # Issue 13: Autotask tickets. Keys and ids the platform passes are checked
    # before anything is sent; a ticket is found by its exact key tag and only
    # while open; text is cut to what Autotask accepts.
    ("autotask-ticket-key", AT + "tickets.rs", "if !key_ok(t.dedup_key) {", "if false {",
     AUTOTASK, "tickets::tests::the_ticket_body"),
    ("autotask-ticket-company-id", AT + "tickets.rs", "values::positive_id(id).ok_or_else(|| not_found(msg::bad_company_id(id)))",
     "id.parse::<i64>().ok().ok_or_else(|| not_found(msg::bad_company_id(id)))",
     AUTOTASK, "tickets::tests::the_ticket_body"),
    ("autotask-ticket-tag-exact", AT + "tickets.rs", 'is_some_and(|x| x.trim_end().ends_with(&tag)),', 'is_some_and(|x| x.contains(&tag)),',
     AUTOTASK, "tickets::tests::find_open_filters_and_picks_the_newest_exact_match"),
    ("autotask-ticket-open-only", AT + "tickets.rs", ".filter(|i| int(i.get(\"status\")) != Some(STATUS_COMPLETE))", ".filter(|_| true)",
     AUTOTASK, "tickets::tests::find_open_filters_and_picks_the_newest_exact_match"),
    ("autotask-ticket-text-cap", AT + "tickets.rs", "if clean.chars().count() <= max {", "if true {",
     AUTOTASK, "tickets::tests::long_text_is_cut_and_marked_and_titles_fit"),
    # Issue 13: contract 0.2.0 in the host. What the ticket calls return is
    # checked; a call the connector does not offer is not made; keys are
    # checked; declared budgets are clamped and kept besides the host's.
    ("pacer-prunes-idle-hosts", H + "pacing.rs", "            map.retain(|_, st| !st.idle(now));", "",
     HOST_LIB, "pacing::tests::idle_host_names_are_forgotten_and_busy_ones_kept"),
    ("v020-dedup-key-charset", H + "tickets.rs", "if let Some(bad) = key.chars().find(|c| !allowed(*c)) {",
     "if let Some(bad) = None::<char> {",
     HOST_LIB, "tickets::tests::a_dedup_key_is_1_to_100_characters_of_the_allowed_set"),
    ("v020-dedup-key-length", H + "tickets.rs", "if chars > MAX_DEDUP_KEY_CHARS {", "if false {",
     HOST_LIB, "tickets::tests::a_dedup_key_is_1_to_100_characters_of_the_allowed_set"),
    ("v020-ticket-url-scheme", H + "tickets.rs", 'if !matches!(scheme.as_deref(), Some("http" | "https")) {', "if false {",
     HOST_LIB, "tickets::tests::a_ticket_ref_needs_an_id_bounded_texts_and_an_http_link"),
    ("v020-ticket-url-bytes", H + "tickets.rs", "if u.len() > limits.max_ticket_url_bytes {", "if false {",
     HOST_LIB, "tickets::tests::a_ticket_ref_needs_an_id_bounded_texts_and_an_http_link"),
    ("v020-ticket-text-bytes", H + "tickets.rs", "if text.len() > limits.max_ticket_text_bytes {", "if false {",
     HOST_LIB, "tickets::tests::a_ticket_ref_needs_an_id_bounded_texts_and_an_http_link"),
    ("v020-ticket-empty-id", H + "tickets.rs", "if id.is_empty() {", "if false {",
     HOST_LIB, "tickets::tests::a_ticket_ref_needs_an_id_bounded_texts_and_an_http_link"),
    ("v020-option-count", H + "tickets.rs", "if options.len() > limits.max_ticket_options {", "if false {",
     HOST_LIB, "tickets::tests::an_option_list_is_bounded"),
    ("v020-text-body-as-html", H + "types.rs", "'<' => out.push_str(\"&lt;\"),", "'<' => out.push('<'),",
     HOST_LIB, "tickets::tests::a_text_body_becomes_escaped_html_for_0_1_0"),
    ("v020-capability-check", H + "runtime/session.rs", "if self.offers(capability) {", "if true {",
     "contract_versions", "each_version_creates_tickets_and_0_1_0_answers_the_new_calls_not_offered"),
    ("v020-option-kind-listed", H + "runtime/session.rs", "if !self.info.ticket_option_kinds.contains(&kind) {", "if false {",
     "contract_versions", "hostile_ticket_answers_are_refused_with_a_contract_error"),
    ("v020-created-ref-checked", H + "runtime/session.rs", "crate::tickets::check_ticket_ref(&created, self.limits())",
     "Ok::<(), String>(())",
     "contract_versions", "hostile_ticket_answers_are_refused_with_a_contract_error"),
    ("v020-found-ref-checked", H + "runtime/session.rs", "crate::tickets::check_ticket_ref(t, self.limits())",
     "Ok::<(), String>(())",
     "contract_versions", "hostile_ticket_answers_are_refused_with_a_contract_error"),
    ("v020-options-checked", H + "runtime/session.rs", "crate::tickets::check_options(&listed, self.limits())",
     "Ok::<(), String>(())",
     "contract_versions", "hostile_ticket_answers_are_refused_with_a_contract_error"),
    ("v020-note-ticket-id-checked", H + "runtime/session.rs", 'crate::tickets::check_id("ticket id", ticket_id, self.limits())',
     "Ok::<(), String>(())",
     "contract_versions", "each_version_creates_tickets_and_0_1_0_answers_the_new_calls_not_offered"),
    ("v020-create-key-checked", H + "runtime/session.rs", "crate::tickets::check_dedup_key(&ticket.dedup_key)",
     "Ok::<(), String>(())",
     "contract_versions", "open_ticket_refuses_a_bad_key_and_a_connector_that_cannot_deduplicate_without_calling_it"),
    ("v020-open-ticket-key-checked", H + "tickets.rs",
     "check_dedup_key(&ticket.dedup_key).map_err(|message| self.invalid_input(CALL, message))?;",
     "Ok::<(), String>(()).map_err(|message| self.invalid_input(CALL, message))?;",
     "contract_versions", "open_ticket_refuses_a_bad_key_and_a_connector_that_cannot_deduplicate_without_calling_it"),
    ("v020-declared-requests-clamp", H + "pacing.rs", "requests: declared.requests.clamp(1, MAX_DECLARED_REQUESTS),",
     "requests: declared.requests,",
     HOST_LIB, "pacing::tests::a_declared_budget_is_clamped"),
    ("v020-declared-window-clamp", H + "pacing.rs", ".clamp(Duration::from_secs(1), MAX_DECLARED_WINDOW)", "",
     HOST_LIB, "pacing::tests::a_declared_budget_is_clamped"),
    ("v020-declared-concurrency-clamp", H + "pacing.rs", ".map(|c| c.clamp(1, most))", "",
     HOST_LIB, "pacing::tests::a_declared_budget_is_clamped"),
    ("v020-declared-budget-kept", H + "pacing.rs", "let budgets = [self.budget, pacing.declared];",
     "let budgets = [self.budget, None];",
     HOST_LIB, "pacing::tests::the_host_budget_and_the_declared_one_both_hold"),
    ("v020-declared-concurrency-kept", H + "pacing.rs", "if pacing.concurrency.is_some_and(|c| *n >= c) {", "if false {",
     HOST_LIB, "pacing::tests::a_declared_concurrency_holds_requests_until_one_is_answered"),
    ("v020-send-history-cap", H + "pacing.rs", "while st.sent.len() > MAX_KEPT {", "while false {",
     HOST_LIB, "pacing::tests::the_send_history_per_host_name_is_bounded"),
    ("v020-declared-pacing-used", H + "runtime/connector.rs",
     "                    Pacing::from_declared(info.budget.as_ref(), sandbox.limits.max_requests_in_flight)\n",
     "                    Pacing::default()\n",
     "contract_versions", "the_declared_budget_paces_the_connector_and_the_host_keeps_its_own"),
    ("v020-config-choice", H + "config.rs",
     "FieldKind::Choice if !f.choices.iter().any(|c| c.value.eq_ignore_ascii_case(value.trim())) => Err(ConfigError::NotAChoice {",
     "FieldKind::Choice if false => Err(ConfigError::NotAChoice {",
     HOST_LIB, "config::tests::choice_and_number_fields_take_only_their_values"),
    ("v020-config-number-range", H + "config.rs", "Ok(n) if (min..=max).contains(&n) => Ok(()),", "Ok(_) => Ok(()),",
     HOST_LIB, "config::tests::choice_and_number_fields_take_only_their_values"),
    ("v020-ticket-ref-scrubbed", H + "runtime/session.rs", "let created = self.scrub_ref(created);", "let created = created;",
     "contract_versions", "a_secret_the_connector_echoes_in_ticket_answers_is_scrubbed"),
    ("v020-found-ref-scrubbed", H + "runtime/session.rs", ".map(|t| self.scrub_ref(t))", "",
     "contract_versions", "a_secret_the_connector_echoes_in_ticket_answers_is_scrubbed"),
    ("v020-option-names-scrubbed", H + "runtime/session.rs", "name: s(&o.name)", "name: o.name.clone()",
     "contract_versions", "a_secret_the_connector_echoes_in_ticket_answers_is_scrubbed"),
    ("v020-option-kinds-once", H + "runtime/connector.rs",
     "info.ticket_option_kinds = distinct_kinds(&info.ticket_option_kinds);", "",
     "contract_versions", "one_host_loads_a_0_1_0_and_a_0_2_0_connector_and_reads_each_info"),
    ("v020-cli-ticket-number-escaped", CLI + "output.rs", 'ticket.number.as_deref().map(t).unwrap_or("-".into())',
     'ticket.number.as_deref().map(std::borrow::Cow::from).unwrap_or("-".into())',
     HOST_CLI, "ticket_output_from_the_connector_is_escaped"),
    ("v020-cli-option-name-escaped", CLI + "output.rs", "default, t(&o.name));", "default, o.name);",
     HOST_CLI, "ticket_output_from_the_connector_is_escaped"),
    ("v020-cli-since-before-1970", CLI + "main.rs",
     'u64::try_from(at.unix_timestamp()).map_err(|_| format!("{:?} is before 1970-01-01 UTC", t(text)))',
     "Ok::<u64, String>(at.unix_timestamp() as u64)",
     HOST_CLI, "import_since_reads_only_the_changed_or_says_it_fell_back"),
    # Issue 13 review: a changed-since import never misses a change (one date
    # alone is not trusted: every company is read); Complete is neither offered
    # nor accepted; find-open pages on the zone, up to a cap, and re-checks the
    # company; a missing company is not-found; option lists are never cut; the
    # integration code is a secret; the check sees that a queue resolves. SDK:
    # tenant links and invalid-id warnings capped per customer, times clamped to
    # year 9999, dedup keys and ids checked strictly.
    ("autotask-changed-since-full-read", AT + "customers.rs", "ChangeFilter::Modified | ChangeFilter::Activity => query_body(true, max),",
     'ChangeFilter::Modified => json!({"filter": [cond(MODIFIED_FIELD)], "MaxRecords": max}),\n        ChangeFilter::Activity => json!({"filter": [cond(ACTIVITY_FIELD)], "MaxRecords": max}),',
     AUTOTASK, "customers::tests::changed_since_reads_every_company_when_one_date_is_refused"),
    ("autotask-status-complete-not-offered", AT + "tickets.rs", "list.retain(|o| !is_complete(&o.id));", "list.retain(|_| true);",
     AUTOTASK, "tickets::tests::complete_is_not_offered_and_refused_for_a_new_ticket"),
    ("autotask-status-complete-refused", AT + "tickets.rs", "if kind == Kind::Status && wanted.as_deref().is_some_and(is_complete) {", "if false {",
     AUTOTASK, "tickets::tests::complete_is_not_offered_and_refused_for_a_new_ticket"),
    ("autotask-find-open-company", AT + "tickets.rs", '.filter(|i| int(i.get("companyID")) == Some(company))', ".filter(|_| true)",
     AUTOTASK, "tickets::tests::find_open_keeps_only_the_customers_tickets"),
    ("autotask-find-open-page-cap", AT + "tickets.rs", "if page >= FIND_MAX_PAGES {", "if false {",
     AUTOTASK, "tickets::tests::find_open_reads_every_page_up_to_a_cap"),
    ("autotask-find-open-next-on-zone", AT + "tickets.rs", "let next = cursor::next_link(&zone, link).map_err(",
     "let next = Ok::<String, Error>(link.to_string()).map_err(",
     AUTOTASK, "tickets::tests::find_open_reads_every_page_up_to_a_cap"),
    ("autotask-find-open-no-loop", AT + "tickets.rs", "if !visited.insert(next.clone()) {", "if false {",
     AUTOTASK, "tickets::tests::find_open_reads_every_page_up_to_a_cap"),
    ("autotask-company-gone", AT + "tickets.rs", 'm.contains("companyid") && (m.contains("does not exist") || m.contains("is invalid"))',
     "m.is_empty() && false",
     AUTOTASK, "tickets::tests::a_missing_company_is_not_found_naming_it"),
    ("autotask-options-cap", AT + "tickets.rs", "if list.len() > MAX_TICKET_OPTIONS {", "if false {",
     AUTOTASK, "tickets::tests::a_picklist_longer_than_the_platform_takes_is_an_error_not_a_cut"),
    ("autotask-integration-code-secret", AT + "config.rs", "never shown back.\",\n        FieldKind::Secret,",
     "never shown back.\",\n        FieldKind::Text,",
     AUTOTASK, "tests::info_declares_the_zone_hosts"),
    ("autotask-check-queue-known", AT + "check.rs", "Some(q) => match queues.iter().find(|o| &o.id == q) {",
     "Some(q) => match queues.iter().find(|o| !q.is_empty() || o.id.is_empty()) {",
     AUTOTASK, "check::tests::the_ticket_queue_must_resolve"),
    ("autotask-check-queue-default", AT + "check.rs", "None => match queues.iter().find(|o| o.is_default) {",
     "None => match queues.iter().find(|_| true) {",
     AUTOTASK, "check::tests::the_ticket_queue_must_resolve"),
    ("sdk-tenant-links-cap", SD + "tenants.rs", "if links.len() >= MAX_LINKS_PER_CUSTOMER {", "if false {",
     SDK, "tenants::tests::a_hostile_field_is_capped_per_customer"),
    ("sdk-invalid-warnings-cap", SD + "tenants.rs", "if invalid_count <= MAX_INVALID_WARNINGS_PER_CUSTOMER {", "if true {",
     SDK, "tenants::tests::a_hostile_field_is_capped_per_customer"),
    ("sdk-iso-year-clamp", SD + "values.rs", "let unix = unix_seconds.min(MAX_ISO_SECONDS);", "let unix = unix_seconds;",
     SDK, "values::tests::times_are_iso_utc_and_clamped_to_year_9999"),
    ("sdk-dedup-key", SD + "values.rs", "key.len() <= DEDUP_KEY_MAX && key.bytes()", "key.len() <= usize::MAX && key.bytes()",
     SDK, "values::tests::dedup_keys_of_the_contracts_form"),
    ("sdk-positive-id-strict", SD + "values.rs", "raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with('0')", "true",
     SDK, "values::tests::ids_are_strict_positive_digits"),
    # `psa-host test` (host/cli/src/harness/): checks that must fail on a
    # broken fixture set or a leaked secret, each with its sentence.
    ("harness-none-lost", CLI + "harness/checks.rs",
     "if seen_expected.insert(id.as_str()) && !first_page.contains_key(id.as_str()) {",
     "if seen_expected.insert(id.as_str()) && false {",
     HOST_CLI, "harness::customers_the_import_loses_are_named"),
    ("harness-unmatched-request", CLI + "harness/checks.rs",
     '(None, _) => misses.push(format!("no fixture answers {}", request_line(s))),', "(None, _) => {}",
     HOST_CLI, "harness::a_request_no_fixture_answers_is_named"),
    ("harness-secret-raw", CLI + "harness/checks.rs",
     'if text.contains(value.as_str()) {\n                found.push(format!("{where_} contains',
     'if false {\n                found.push(format!("{where_} contains',
     HOST_CLI, "harness::a_secret_in_any_output_fails_no_secrets_even_where_the_host_scrubs_it"),
    ("harness-secret-redacted", CLI + "harness/checks.rs",
     'if text.contains("[redacted]") {\n            found.push(format!("{where_} carried',
     'if false {\n            found.push(format!("{where_} carried',
     HOST_CLI, "harness::a_secret_in_any_output_fails_no_secrets_even_where_the_host_scrubs_it"),
    ("harness-typed-error-kind", CLI + "harness/checks.rs", "(Some(_), _) if kind == Some(want) =>", "(Some(_), _) =>",
     HOST_CLI, "harness::an_error_of_the_wrong_kind_fails_its_typed_error_check"),
    ("harness-paging-error", CLI + "harness/checks.rs",
     "(Some(e), _, _) => Outcome::fail(\n            \"paging-ends\",", "(Some(e), _, _) => Outcome::pass(\n            \"paging-ends\",",
     HOST_CLI, "harness::a_page_that_repeats_customers_fails_paging"),
    # --- #14 record ---
    # `psa-host import --record` (host/cli/src/record.rs) and the host's
    # recorder (host/src/record.rs).
    ("record-kept-exchanges", H + "record.rs", "if kept.len() >= self.max_exchanges || !fits_bytes {", "if !fits_bytes {",
     HOST_LIB, "record::tests::a_recording_keeps_at_most_its_exchanges_and_bytes_and_counts_the_rest"),
    ("record-kept-bytes", H + "record.rs", "if kept.len() >= self.max_exchanges || !fits_bytes {",
     "if kept.len() >= self.max_exchanges {",
     HOST_LIB, "record::tests::a_recording_keeps_at_most_its_exchanges_and_bytes_and_counts_the_rest"),
    ("record-scrub-secret", CLI + "record.rs",
     "rules.push(Rule { needle: form, replacement: fake.clone(), bounded: false });", "let _ = (form, fake);",
     HOST_CLI, "record::a_recorded_import_passes_the_harness_and_holds_no_secret_or_token"),
    ("record-scrub-json-token", CLI + "record.rs", "json_tokens(&v, &mut tokens);\n            } else", "let _ = &v;\n            } else",
     HOST_CLI, "record::a_recorded_import_passes_the_harness_and_holds_no_secret_or_token"),
    ("record-scrub-auth-header", CLI + "record.rs", 'let v = if sensitive_name(k) { "[scrubbed]".to_string() }',
     'let v = if false { "[scrubbed]".to_string() }',
     HOST_CLI, "record::a_recorded_import_passes_the_harness_and_holds_no_secret_or_token"),
    ("record-refuse-secret", CLI + "record.rs", "if let Some(at) = text.find(&form) {", "if let Some(at) = None::<usize> {",
     HOST_CLI, "record::a_secret_the_scrubber_misses_refuses_the_whole_recording"),
    ("record-refuse-base64", CLI + "record.rs", ".chain(base64_embedded(value).into_iter()",
     ".chain(Vec::<String>::new().into_iter()",
     HOST_CLI, "record::a_secret_the_scrubber_misses_refuses_the_whole_recording"),
    ("record-non-empty-dir", CLI + "record.rs", "if let Err(message) = check_empty(dir) {\n        eprintln",
     "if let Err(message) = Ok::<(), String>(()) {\n        eprintln",
     HOST_CLI, "record::a_non_empty_record_directory_is_refused_before_any_request"),
    ("record-reserve-room", H + "record.rs", "Some(p) => p.recorder.reserve(take as u64),", "Some(_) => true,",
     HOST_LIB, "record::tests::a_body_copy_grows_only_into_room_reserved_from_the_recording"),
    ("record-drop-replaced", H + "record.rs", "failed && exchanges[i + 1..].iter().any(|later| same(e, later))", "false",
     HOST_LIB, "record::tests::a_failed_attempt_a_retry_replaced_is_left_out"),
    ("record-drop-replaced-replays", H + "record.rs", "failed && exchanges[i + 1..].iter().any(|later| same(e, later))", "false",
     HOST_CLI, "record::a_page_the_host_retried_is_recorded_once_and_the_recording_replays"),
    ("record-refuse-partial-answer", CLI + "record.rs",
     "if let Some((i, e)) = exchanges.iter().enumerate().find(|(_, e)| !e.response_complete) {",
     "if let Some((i, e)) = None::<(usize, &Exchange)> {",
     HOST_CLI, "record::an_answer_not_read_to_its_end_refuses_the_recording"),
    ("record-full-refused", CLI + "record.rs", "    if dropped > 0 {\n        return Err(format!(\n            \"the recording was refused",
     "    if false {\n        return Err(format!(\n            \"the recording was refused",
     HOST_CLI, "record::a_full_recording_is_refused_and_nothing_is_written"),
    # Writing into DIR itself and keeping what a failed write left: both
    # must go for a partial DIR.
    ("record-write-whole", [(CLI + "record.rs", 'let tmp = parent.join(format!(".{name}.recording-{}", std::process::id()));',
                             "let tmp = dir.to_path_buf();"),
                            (CLI + "record.rs", "let _ = std::fs::remove_dir_all(&tmp);", "let _ = &tmp;")],
     None, None, HOST_CLI, "record::a_write_that_fails_part_way_leaves_nothing_in_the_record_directory"),
    ("record-write-cleanup", CLI + "record.rs", "let _ = std::fs::remove_dir_all(&tmp);", "let _ = &tmp;",
     HOST_CLI, "record::a_write_that_fails_part_way_leaves_nothing_in_the_record_directory"),
    ("record-escape-dir", CLI + "record.rs",
     'if let Err(message) = check_empty(dir) {\n        eprintln!("error: --record: {}", t(&message));',
     'if let Err(message) = check_empty(dir) {\n        eprintln!("error: --record: {message}");',
     HOST_CLI, "record::a_refused_record_directory_is_named_escaped"),
    ("record-output-after-fixtures", CLI + "record.rs",
     "    let (outcome, took) = match crate::import_all(&connector, &config, since).await {\n        Ok(x) => x,",
     "    let (outcome, took) = match crate::import_all(&connector, &config, since).await {\n        Ok(x) => { let _ = crate::write_import(&x.0, x.1, format, output.clone()); x }",
     HOST_CLI, "record::a_full_recording_is_refused_and_nothing_is_written"),
    # --- #14 new ---
    # `psa-host new` (host/cli/src/new.rs): refusals, each with its sentence
    # and nothing written.
    ("new-bad-name", CLI + "new.rs",
     "if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {",
     "if let Some(c) = None::<char> {",
     HOST_CLI, "new_project::new_refuses_a_bad_name_and_writes_nothing"),
    ("new-reserved-name", CLI + "new.rs", "if RESERVED.contains(&name) {", "if false {",
     HOST_CLI, "new_project::new_refuses_a_bad_name_and_writes_nothing"),
    ("new-display-name-controls", CLI + "new.rs", "if t(text) != text {", "if false {",
     HOST_CLI, "new_project::new_refuses_a_bad_name_and_writes_nothing"),
    ("new-non-empty-dir", CLI + "new.rs", "    match super::files::inspect(dir) {\n        Ok(Target::Absent | Target::Empty) => Ok(()),",
     "    match super::files::inspect(dir) {\n        Ok(Target::Absent | Target::Empty | Target::NotEmpty { .. }) => Ok(()),",
     HOST_CLI, "new_project::new_refuses_a_non_empty_directory_and_a_folder_that_is_not_the_sdk"),
    ("new-not-the-sdk", CLI + "new.rs", "if !is_sdk(&dir) {", "if false {",
     HOST_CLI, "new_project::new_refuses_a_non_empty_directory_and_a_folder_that_is_not_the_sdk"),
    # The default SDK inside cargo's git checkouts (`cargo install --git`)
    # is refused; new.rs's unit tests run in the cli test binary.
    ("new-sdk-in-git-checkout", CLI + "new.rs", "if in_cargo_git_checkout(&dir) {", "if false {",
     HOST_CLI, "new_project::new_rs::tests::the_sdk_in_a_cargo_git_checkout_is_refused"),
    # A --sdk-git URL's user info (a token) is never printed.
    ("new-sdk-git-user-info", CLI + "new.rs",
     "if !url.username().is_empty() || url.password().is_some() {", "if false {",
     HOST_CLI, "new_project::new_shows_a_git_url_without_its_user_info"),
    # --- #14 bugs ---
    # The template with six deliberate bugs (tests/guests/buggy-template):
    # each harness check that names a bug, and what the connector printed
    # reaching `no-secrets` (kept by the host, bounded, for the embedder).
    ("harness-tenant-ids", CLI + "harness/checks.rs",
     ".flat_map(|c| c.m365_tenants.iter().filter(|t| !is_lower_guid(&t.tenant_id))",
     ".flat_map(|c| c.m365_tenants.iter().filter(|_| false)",
     HOST_CLI, "harness::bug_tenant_ids_not_lower_case_guids_fails_tenant_ids"),
    ("harness-fetched", CLI + "harness/checks.rs", "if p.fetched != so_far {", "if false {",
     HOST_CLI, "harness::bug_fetched_per_page_fails_fetched_cumulative"),
    ("harness-total", CLI + "harness/checks.rs",
     "p.total.filter(|t| run.error.is_none() && *t != end || *t < p.fetched)", "p.total.filter(|_| false)",
     HOST_CLI, "harness::bug_total_contradicting_what_arrives_fails_total_consistent"),
    ("harness-reread-page", CLI + "harness/checks.rs",
     ".find(|j| !page_ids[i].is_empty() && page_ids[*j] == page_ids[i])", ".find(|_| false)",
     HOST_CLI, "harness::bug_rereading_a_page_fails_no_duplicates_and_none_lost"),
    ("harness-skipped-page", CLI + "harness/checks.rs",
     "(Some(me), Some(later)) if later > me =>", "(Some(me), Some(later)) if false && later > me =>",
     HOST_CLI, "harness::bug_skipping_a_page_fails_none_lost"),
    ("harness-cursor-asked-again", CLI + "harness/checks.rs",
     "let new: Vec<String> = if round == 0 {", "let new: Vec<String> = if false {",
     HOST_CLI, "harness::bug_one_cursor_answered_with_different_customers_fails_same_cursor"),
    ("harness-printed-secret", CLI + "harness/checks.rs",
     "for (run, text) in &ctx.printed {", "for (run, text) in ctx.printed.iter().take(0) {",
     HOST_CLI, "harness::bug_secret_in_a_message_step_warning_and_print_fails_no_secrets"),
    ("harness-check-printed", CLI + "harness/mod.rs",
     'ctx.printed.extend(printed.into_iter().map(|text| ("the connection test".to_string(), text)));', "let _ = printed;",
     HOST_CLI, "harness::bug_secret_in_a_message_step_warning_and_print_fails_no_secrets"),
    ("guest-output-kept", H + "runtime/instance.rs", "self.kept_output.push(call, &text);", "let _ = &text;",
     "guest_output", "the_embedder_gets_what_the_connector_printed_scrubbed_and_bounded"),
    ("guest-output-kept-cap", H + "guest_output.rs", "if entry.len() > room {", "if false {",
     HOST_LIB, "guest_output::tests::kept_output_is_bounded_between_takes"),
    # --- #14 lead ---
    # The template: a customer id that is a number out of u64 (the harness's
    # huge-numbers mutation made two customers share one id) is a protocol error.
    ("template-id-whole-number", "template/src/lib.rs", "serde_json::Value::Number(n) if n.is_u64() =>",
     "serde_json::Value::Number(n) =>", TEMPLATE, "tests::pages_become_customers_and_warnings"),
    # The harness takes what the connector printed after every call, and the
    # host's kept output says when what it did not keep held a scrubbed secret.
    ("guest-output-dropped-mark", "host/src/guest_output.rs",
     "self.dropped_redacted |= entry.contains(crate::redact::REDACTED);", "",
     HOST_LIB, "guest_output::tests::a_scrubbed_secret_in_what_is_not_kept_is_still_reported"),
    ("harness-printed-per-call", CLI + "harness/checks.rs", "run.keep_printed(session.take_guest_output());", "",
     HOST_CLI, "harness::bug_secret_in_a_message_step_warning_and_print_fails_no_secrets"),
]

def run_row(row):
    rid, path, old, new, module, name = row
    cargo_args, prefix = target(module)
    name = prefix + name
    # A row edits one place, or (path a list, old and new None) several.
    edits = path if isinstance(path, list) else [(path, old, new)]
    originals = {}
    for p, o, n in edits:
        text = originals.setdefault(p, open(p).read())
        if text.count(o) != 1:
            return "STALE", f"the text to replace occurs {text.count(o)} times in {p}; update this row"
    try:
        for p, o, n in edits:
            mutated = open(p).read().replace(o, n)
            open(p, "w").write(mutated)
        # Build first, without a time limit: a cold build takes longer than
        # HANG_SECONDS, and only the test's own run may count as a hang.
        t = time.time()
        b = subprocess.run(["cargo", "test", *cargo_args, "--no-run"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if b.returncode != 0:
            err = next((l for l in b.stdout.splitlines() if l.startswith("error")), b.stdout[-300:])
            return "BUILD", f"the mutation does not compile ({time.time() - t:.0f} s): {err[:150]}"
        t = time.time()
        # A removed deadline can make its test hang: that counts as caught.
        p = subprocess.Popen(["cargo", "test", *cargo_args, "--", "--exact", name], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out, _ = p.communicate(timeout=HANG_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            return "caught", f"{name} hung for {HANG_SECONDS} s (the guard is what ends it)"
        secs = time.time() - t
        if "error: could not compile" in out:
            err = next((l for l in out.splitlines() if l.startswith("error")), "")
            return "BUILD", f"the mutation does not compile ({secs:.0f} s): {err[:150]}"
        if p.returncode != 0 and ("test result: FAILED" in out or "panicked" in out):
            line = next((l for l in out.splitlines() if "panicked" in l or "assertion" in l), "")
            return "caught", f"{name} failed ({secs:.0f} s): {line.strip()[:150]}"
        if "1 passed" in out:
            return "MISSED", f"{name} still passes without the guard"
        return "ODD", out[-400:]
    finally:
        for p, text in originals.items():
            open(p, "w").write(text)


def main():
    pick = sys.argv[1] if len(sys.argv) > 1 else ""
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    rows = [r for r in ROWS if pick in r[0]]
    if not rows:
        sys.exit(f"no row's id contains {pick!r}")
    bad = 0
    for row in rows:
        verdict, detail = run_row(row)
        bad += verdict != "caught"
        print(f"{row[0]:24} {verdict:7} {detail}", flush=True)
    print(f"{len(rows) - bad}/{len(rows)} guards caught when removed")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
