# Shared by the guest-image build scripts (sourced, not run): their
# dependencies, their cache key and how they hand back the result.

# install_deps PKG...: installs the Debian packages that are missing.
install_deps() {
    bash "$(dirname "${BASH_SOURCE[0]}")/../scripts/install-deps.sh" "$@"
}

# input_hash FILE... -- PACKAGE: 16 hex digits over the files' names and
# contents and the package's version; the cache directory's name.
input_hash() {
    local files=() pkg
    while (($#)) && [[ $1 != -- ]]; do files+=("$1"); shift; done
    pkg=${2:?input_hash: no package}
    {
        for f in "${files[@]}" "${BASH_SOURCE[0]}"; do
            printf '%s %s\n' "$(basename "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)"
        done
        printf '%s %s\n' "$pkg" "$(dpkg-query -W -f='${Version}' "$pkg")"
    } | sha256sum | cut -c1-16
}

# emit_result RESULT OUTDIR: prints RESULT's path, or copies it into OUTDIR
# (when given) and prints the copy's path. The last stdout line is the path.
emit_result() {
    local result=$1 outdir=$2
    if [[ -z $outdir ]]; then
        echo "$result"
        return
    fi
    mkdir -p "$outdir"
    local od
    od=$(cd "$outdir" && pwd)
    cp -f "$result" "$od/$(basename "$result")"
    echo "$od/$(basename "$result")"
}
