#!/usr/bin/env bash
# The sam.ldb wrapper (src/samba: libldb through our C shim) under valgrind memcheck: the
# directory tests against real throwaway DCs and the wrapper's unit tests. Any memory error or
# definite leak fails the run (exit 9). Known leaks inside Samba's own libraries (not reachable
# from our code) are suppressed in scripts/valgrind-ldb.supp, each with its reason.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

binary_of() { # cargo test args... → the test executable's path
    # Only artifacts built as tests (profile "test":true): an integration test also builds
    # the daemon's binary, whose artifact line may come last (it did when it was rebuilt).
    cargo test --quiet --no-run --message-format=json "$@" 2> /dev/null |
        sed -n '/"profile":{[^}]*"test":true}/s/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1
}

# The directory tests run our binary (`directory dump`) as a child: follow it, but not the
# system tools the harness runs (samba, ldbadd, cp, ip...). A child with a memory error exits 9,
# which fails its test.
memcheck=(valgrind --quiet --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --suppressions=scripts/valgrind-ldb.supp --num-callers=30
    --trace-children=yes '--trace-children-skip=/usr/*,/bin/*,/sbin/*')

directory=$(binary_of --test directory)
lib=$(binary_of --lib)
echo "==> valgrind: tests/directory.rs"
"${memcheck[@]}" "$directory" --test-threads=1 --quiet
echo "==> valgrind: the wrapper's unit tests (samba::)"
"${memcheck[@]}" "$lib" --test-threads=1 --quiet samba::
