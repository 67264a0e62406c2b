#!/usr/bin/env bash
# `moor up` refuses bad app files before it does anything: each error on one line as
# FILE:LINE:COL: what is wrong — a hint, then "FILE: N errors, nothing done", exit status 1,
# and no container, network or volume made. The files are fixtures/app/bad/*.yaml; each is
# valid but for its one defect (good.yaml, the control, comes up).
# Runs in a private network namespace with its own daemon (engine_lib.sh): there is no
# registry, so an image that is not in the store cannot be pulled.
source "$(dirname "$0")/engine_lib.sh"
source "$(dirname "$0")/app_lib.sh"

# bad_file FILE LINE TEXT [UP_FLAGS...]: `moor up -d` of fixtures/app/bad/FILE fails with
# exit status 1, one diagnostic at LINE naming TEXT with a hint, a summary, nothing made;
# `moor config -q` reports the same diagnostics.
bad_file() {
  local file=$1 line=$2 text=$3
  shift 3
  app_copy bad
  APP_FILE="$APP_DIR/$file"
  capture A up -d "$@"
  note_ids "$(app_ids)"
  say "  info - stderr: $(_clip "$ERR" | tr '\n' '|')"
  assert_eq 1 "$RC" "exit status 1"
  local re="^${APP_FILE//./\\.}:$line:[0-9]+: "
  local diag
  diag=$(grep -E "$re" <<<"$ERR" | head -n 1)
  assert_match "$diag" "$re" "an error at $file:$line:COL"
  assert_contains "$diag" "$text" "it says what is wrong ($text)"
  assert_match "$diag" ' — [^ ].{8,}' "it gives a hint after ' — '"
  local other
  other=$(grep -vE "^${APP_FILE//./\\.}:[0-9]+:[0-9]+: .+ — .+" <<<"$ERR" | grep -vE "errors?, nothing done$" | grep .)
  assert_eq "" "$other" "stderr holds only diagnostics and the summary"
  assert_match "$(tail -n 1 <<<"$ERR")" "${APP_FILE//./\\.}: [0-9]+ errors?, nothing done$" "the last line: FILE: N error(s), nothing done"
  assert_eq "" "$OUT" "nothing on stdout"
  app_nothing_made "$file"
  # images are the daemon's business: `moor config` checks the file alone
  [[ "$text" == *does-not-exist* ]] && return 0
  capture A config -q
  assert_eq 1 "$RC" "moor config -q: exit status 1 too"
  assert_contains "$ERR" "$diag" "moor config reports the same error"
}

t_unknown_key() { bad_file unknown_key.yaml 6 'unknown key "imag"'; assert_contains "$ERR" 'did you mean "image"' "it suggests image"; }
t_wrong_type() { bad_file wrong_type.yaml 7 replicas; }
t_bad_duration() { bad_file bad_duration.yaml 7 '10x'; }
t_bad_size() { bad_file bad_size.yaml 7 '12qb'; }
t_cycle() { bad_file cycle.yaml '(7|11)' 'cycle'; assert_contains "$ERR" "a → b → a" "it names the cycle a → b → a"; }
t_port_conflict() { bad_file port_conflict.yaml '(7|11)' '8081'; }
t_missing_build() { bad_file missing_build.yaml 6 'no-such-dir'; }

t_multi() {
  bad_file multi.yaml 6 'unknown key "comand"'
  local n
  n=$(grep -cE "^${APP_FILE//./\\.}:[0-9]+:[0-9]+: " <<<"$ERR")
  assert_eq 3 "$n" "the three errors are all reported"
  assert_contains "$ERR" "multi.yaml:8:" "the bad duration on line 8"
  assert_contains "$ERR" "multi.yaml:9:" "the bad restart policy on line 9"
  assert_contains "$(tail -n 1 <<<"$ERR")" "3 errors, nothing done" "the summary counts 3"
}

# An image that is in no store: with --pull never, and without (there is no registry here).
t_missing_image_never() { bad_file missing_image.yaml 6 'moor/does-not-exist:1' --pull never; }
t_missing_image_pull() {
  app_copy bad
  APP_FILE="$APP_DIR/missing_image.yaml"
  capture A up -d
  note_ids "$(app_ids)"
  say "  info - stderr: $(_clip "$ERR" | tr '\n' '|')"
  assert_eq 1 "$RC" "exit status 1"
  assert_contains "$ERR" "moor/does-not-exist:1" "the error names the image"
  local err
  err=$(grep -v -e 'pulling ' -e ': 1 error, nothing done$' <<<"$ERR")
  assert_eq 1 "$(grep -c . <<<"$err")" "one error line (besides the pull's progress and the summary)"
  assert_match "$err" "^${APP_FILE//./\\.}:6:[0-9]+: services\.app\.image: " "at FILE:LINE:COL of the image"
  assert_match "$(tail -1 <<<"$ERR")" ': 1 error, nothing done$' "the summary line last"
  assert_eq 1 "$(grep -o 'pull moor/does-not-exist:1' <<<"$err" | grep -c .)" "the error does not repeat itself"
  assert_match "$err" '(import|build it|--pull)' "it says what to do (import or build the image, or --pull never)"
  app_nothing_made "missing image, pull attempted"
}

t_good() {
  app_copy bad
  APP_FILE="$APP_DIR/good.yaml"
  capture A config -q
  assert_eq 0 "$RC" "the control file is valid (stderr: $(_clip "$ERR"))"
  capture A up -d --wait
  note_ids "$(app_ids)"
  assert_eq 0 "$RC" "the control file comes up (stderr: $(_clip "$ERR"))"
  assert_eq 2 "$(M ps -q | grep -c .)" "2 containers run"
  capture A down -v
  assert_eq 0 "$RC" "and goes down (stderr: $(_clip "$ERR"))"
  app_nothing_made "after down -v"
}

app_setup
ecase "control: a valid file of the same shape comes up" t_good
ecase "unknown key: FILE:LINE:COL, did-you-mean hint, nothing made" t_unknown_key
ecase "wrong type" t_wrong_type
ecase "bad duration" t_bad_duration
ecase "bad size" t_bad_size
ecase "depends_on cycle" t_cycle
ecase "host port published twice" t_port_conflict
ecase "missing build context" t_missing_build
ecase "several errors in one file: all reported, counted" t_multi
ecase "missing image with --pull never: FILE:LINE:COL, nothing made" t_missing_image_never
ecase "missing image, no registry to pull from: one error, nothing made" t_missing_image_pull
finish
