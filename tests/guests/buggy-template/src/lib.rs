//! The connector template (`template/src/lib.rs`) with six deliberate bugs,
//! for the tests of `psa-host test` (`host/cli/tests/harness/mod.rs`): the
//! harness must fail each with a sentence that names the bug.
//!
//! The source is the template's own: `build.rs` copies it, applies each bug
//! as an exact textual edit (a template change that breaks an edit fails
//! the build, naming the edit) and writes `OUT_DIR/buggy.rs`, included here.
//! One component holds every bug; the API key switches one on at run time:
//! a key `bug-<name>-...` (the tests' copy of `template/fixtures` sets it in
//! `connection.toml`). Any other key runs the template unchanged.
//!
//! | key prefix | the bug |
//! |---|---|
//! | `bug-tenant-ids-` | tenant ids kept as the PSA wrote them (upper case, braces) |
//! | `bug-fetched-` | `fetched` is the page's count, not the running total |
//! | `bug-total-` | `total` is the page's count, which contradicts what arrives |
//! | `bug-errors-` | 401 as `forbidden`, 403 as `unauthorized`, 429 as `upstream`, 5xx as `protocol` |
//! | `bug-secret-` | the API key in a 401's message, in the connection test's step, in a warning, and printed to stdout and stderr (in `list-customers` and `test-connection`) |
//! | `bug-reread-` | the cursor for page 2 reads page 1 again |
//! | `bug-skip-` | the cursor for page 2 reads page 3 |
//! | `bug-cursor-state-` | the page read is the number of calls in the session, not the cursor: the same cursor asked again gives the next page |

include!(concat!(env!("OUT_DIR"), "/buggy.rs"));
