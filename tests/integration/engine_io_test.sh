#!/usr/bin/env bash
# Container I/O through the daemon: foreground run (stdout/stderr/exit code), run -i,
# run -it and exec -it with a terminal, exec (exit codes, -e, -u, -w, -i), attach,
# cp in both directions, and logs with --tail, --since, -t and -f.
source "$(dirname "$0")/engine_lib.sh"

# exited_pid PID: the process is gone or a zombie.
exited_pid() { [[ ! -e /proc/$1/stat ]] || [[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" == Z ]]; }

t_foreground_run() {
  M run --rm "$E_IMG" sh -c 'echo out; echo err >&2; exit 3' >"$T_TMP/o" 2>"$T_TMP/e"
  assert_eq 3 "$?" "moor run exits with the container's code"
  assert_eq out "$(cat "$T_TMP/o")" "the container's stdout on stdout"
  assert_eq err "$(cat "$T_TMP/e")" "its stderr on stderr"
  assert_eq abc "$(echo abc | M run -i --rm "$E_IMG" cat)" "run -i passes stdin"
  capture M run --rm "$E_IMG" /no/such/binary
  assert_eq 127 "$RC" "a missing executable exits 127"
  assert_true "with one line ($ERR)" one_line
  assert_eq "" "$(M ps -aq)" "--rm removed every container"
}

t_run_it() {
  local out rc
  out=$(INPUT=$'echo in-run-$((2+3)); tty; exit 4\n' in_tty "$MOOR" --root "$E_ROOT" run -it --rm "$E_IMG" sh)
  rc=$?
  assert_contains "$out" "in-run-5" "run -it: the shell reads what is typed"
  assert_contains "$out" "/dev/pts/" "and has a terminal"
  assert_eq 4 "$rc" "run -it exits with the shell's code"
  capture M run -it --rm "$E_IMG" sh </dev/null
  assert_ne 0 "$RC" "run -it with stdin not a terminal fails"
  assert_contains "$ERR" "not a TTY" "at once, saying why"
  assert_true "with one line ($ERR)" one_line
}

t_exec() {
  M run -d --name ex "$E_IMG" sleep 600 >/dev/null || die "run ex"
  wait_status 10 ex running
  capture M exec ex sh -c 'echo hi; exit 5'
  assert_eq hi "$OUT" "exec prints the command's output"
  assert_eq 5 "$RC" "exec exits with the command's code"
  capture M exec -e FOO=bar -e X=1 ex sh -c 'echo $FOO$X'
  assert_eq bar1 "$OUT" "exec -e"
  capture M exec -u 1000:1000 ex id -u
  assert_eq 1000 "$OUT" "exec -u UID:GID"
  capture M exec -u tester ex id -un
  assert_eq tester "$OUT" "exec -u NAME"
  capture M exec -w /tmp ex pwd
  assert_eq /tmp "$OUT" "exec -w"
  assert_eq hello "$(echo hello | M exec -i ex cat)" "exec -i passes stdin"
  capture M exec ex /no/such/binary
  assert_ne 0 "$RC" "exec of a missing binary fails"
  assert_true "with one line ($ERR)" one_line
  capture M exec -d ex sh -c 'echo detached > /tmp/d'
  assert_eq 0 "$RC" "exec -d returns at once"
  wait_for 5 "the detached exec ran" M exec ex test -f /tmp/d
  local out rc
  out=$(INPUT=$'echo in-exec-$((6*7)); tty; exit 3\n' in_tty "$MOOR" --root "$E_ROOT" exec -it ex sh)
  rc=$?
  assert_contains "$out" "in-exec-42" "exec -it: the shell reads what is typed"
  assert_contains "$out" "/dev/pts/" "and has a terminal"
  assert_eq 3 "$rc" "exec -it exits with the shell's code"
  M stop -t 1 ex >/dev/null
  capture M exec ex true
  assert_ne 0 "$RC" "exec in a stopped container fails"
  assert_true "with one line ($ERR)" one_line
}

t_attach() {
  M run -d --name talker "$E_IMG" sh -c 'while :; do echo tick; sleep 0.2; done' >/dev/null || die "run talker"
  wait_status 10 talker running
  # attach passes signals on to the container (as docker attach does): -k ends it.
  timeout -k 1 2 "$MOOR" --root "$E_ROOT" attach talker >"$T_TMP/att.out" 2>&1
  assert_contains "$(cat "$T_TMP/att.out")" "tick" "attach shows the running container's output"
  assert_eq running "$(status_of talker)" "the container keeps running after the client goes"
  M run -d -i --name reader "$E_IMG" sh -c 'read x; echo got-$x; exit 6' >/dev/null || die "run reader"
  wait_status 10 reader running
  local out
  out=$( (sleep 1; echo val) | M attach reader)
  local rc=$?
  assert_contains "$out" "got-val" "attach passes stdin to the container"
  assert_eq 6 "$rc" "attach exits with the container's code"
}

t_cp() {
  M run -d --name box "$E_IMG" sleep 600 >/dev/null || die "run box"
  mkdir -p "$T_TMP/src/sub" "$T_TMP/dst"
  echo one >"$T_TMP/src/a.txt"
  echo two >"$T_TMP/src/sub/b.txt"
  assert_rc 0 "cp a file into the container" M cp "$T_TMP/src/a.txt" box:/tmp/
  assert_eq one "$(M exec box cat /tmp/a.txt)" "the file is there"
  assert_rc 0 "cp a directory into the container" M cp "$T_TMP/src" box:/tmp/dir
  assert_eq two "$(M exec box cat /tmp/dir/sub/b.txt)" "the directory is there"
  M exec box sh -c 'mkdir -p /out && echo three > /out/c.txt && ln -s c.txt /out/link'
  assert_rc 0 "cp a file out of the container" M cp box:/out/c.txt "$T_TMP/dst/c.txt"
  assert_eq three "$(cat "$T_TMP/dst/c.txt")" "the file arrived"
  assert_rc 0 "cp a directory out" M cp box:/out "$T_TMP/dst/out"
  assert_eq three "$(cat "$T_TMP/dst/out/c.txt")" "the directory arrived"
  assert_eq c.txt "$(readlink "$T_TMP/dst/out/link")" "a symlink stays a symlink"
  M stop -t 1 box >/dev/null
  assert_rc 0 "cp out of a stopped container" M cp box:/tmp/a.txt "$T_TMP/dst/a2.txt"
  assert_eq one "$(cat "$T_TMP/dst/a2.txt")" "works too"
  capture M cp box:/no/such "$T_TMP/dst/x"
  assert_ne 0 "$RC" "cp of a missing path fails"
  assert_true "with one line ($ERR)" one_line
}

t_logs() {
  M run -d --name lg "$E_IMG" sh -c 'for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done; sleep 2;
    echo late1; echo late2' >/dev/null || die "run lg"
  wait_for 5 "the first batch is logged" sh -c "'$MOOR' --root '$E_ROOT' logs lg 2>&1 | grep -q err5"
  local mid
  mid=$(date +%s.%N)
  wait_status 10 lg exited
  assert_eq $'out1\nout2\nout3\nout4\nout5\nlate1\nlate2' "$(M logs lg 2>/dev/null)" "logs: stdout on stdout"
  assert_eq $'err1\nerr2\nerr3\nerr4\nerr5' "$(M logs lg 2>&1 >/dev/null)" "logs: stderr on stderr"
  # --tail counts the lines of both streams (the last three are err5, late1, late2).
  assert_eq $'late1\nlate2' "$(M logs --tail 3 lg 2>/dev/null)" "logs --tail 3: its stdout lines"
  assert_eq "err5" "$(M logs --tail 3 lg 2>&1 >/dev/null)" "logs --tail 3: its stderr line"
  assert_eq $'late1\nlate2' "$(M logs --since "$mid" lg 2>&1)" "logs --since a time between the batches"
  local first
  first=$(M logs -t lg 2>/dev/null | head -n 1)
  assert_match "$first" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z out1$' "logs -t prefixes RFC 3339 timestamps"
  M run -d --name fl "$E_IMG" sh -c 'echo a; sleep 1; echo b; sleep 1; echo c' >/dev/null || die "run fl"
  M logs -f fl >"$T_TMP/follow.out" 2>&1 &
  local fpid=$!
  track_pid $fpid
  wait_for 5 "logs -f shows b while the container runs" file_has "$T_TMP/follow.out" b
  assert_eq running "$(status_of fl)" "(the container was still running then)"
  wait_for 10 "logs -f ends when the container exits" exited_pid $fpid
  assert_eq $'a\nb\nc' "$(cat "$T_TMP/follow.out")" "logs -f printed every line once"
}

engine_setup
ecase "foreground run: stdout, stderr, exit code, -i, --rm" t_foreground_run
ecase "run -it with a terminal" t_run_it
ecase "exec: exit codes, -e, -u, -w, -i, -d, -it" t_exec
ecase "attach: output, stdin, exit code" t_attach
ecase "cp in both directions" t_cp
ecase "logs: streams, --tail, --since, -t, -f" t_logs
finish
