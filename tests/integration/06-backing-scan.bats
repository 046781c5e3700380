#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Only ciphertext reaches the backing store: no plaintext file name,
# directory name, symlink target, xattr or content marker appears in it.

load helpers

setup() {
	setup_vault
	mount_vault
}
teardown() { teardown_vault; }

@test "no plaintext name or content marker anywhere in the backing store" {
	markers=(PATIENT-DUPONT-1975 HIV-POSITIVE-MARKER SECU-185057800608436 GENOME-BRCA1)
	mkdir -p "$MNT/Laboratoire_Biologie/Resultats_2026"
	for m in "${markers[@]}"; do
		printf 'header %s footer\n' "$m" >"$MNT/Laboratoire_Biologie/Resultats_2026/$m.txt"
		# Large files too: the marker at a block boundary and deep inside.
		{ head -c 4090 /dev/zero; printf '%s' "$m"; head -c 100000 /dev/zero; printf '%s' "$m"; } \
			>"$MNT/Laboratoire_Biologie/big-$m.bin"
		setfattr -n "user.note-$m" -v "$m" "$MNT/Laboratoire_Biologie/Resultats_2026/$m.txt"
	done
	ln -s "/srv/Laboratoire_Biologie/PATIENT-DUPONT-1975" "$MNT/link-to-record"
	long=$(printf 'GENOME-BRCA1-%.0s' $(seq 15))
	echo "$long" >"$MNT/$long"
	sync
	unmount_vault
	assert_not_in_backing "${markers[@]}" Laboratoire_Biologie Resultats_2026 link-to-record \
		"note-" "header " "footer"
	# Nothing in the backing tree is readable text except our config file.
	run bash -c "find '$VAULT/d' -type f ! -name '.N*' -exec file -b {} + | sort | uniq -c"
	echo "$output"
	[[ "$output" != *"ASCII text"* ]]
}
