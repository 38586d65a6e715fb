# What the Omega2 owb-device is made of, per part (bench/device-footprint.sh).
# Input: an unstripped link's `readelf -SW` (lines prefixed "S "),
# `llvm-dwarfdump --debug-info` ("I "), `--debug-line` ("L ") and
# `readelf -sW` ("Y "); -v root=<source tree> -v total=<shipped file's size>.
# Code: each line-table row's range goes to the part of that row's source
# file, so crypto that LTO inlined into owb's functions still counts as
# libsodium. Data: each named object goes to the part of the compile unit
# whose DWARF gives its address. Prints Markdown rows, largest first.

function hex(s, i, n) {
    n = 0
    s = tolower(s)
    sub(/^0x/, "", s)
    for (i = 1; i <= length(s); i++)
        n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
    return n
}

function part(p) {
    if (p ~ /\/libsodium\//) return "libsodium"
    if (p ~ /\/libmicrohttpd\//) return "libmicrohttpd"
    if (p ~ /\/cjson\//) return "cJSON"
    if (p ~ /\/libc\/musl\/|\/libc\/include\//) return "musl libc"
    if (p ~ /compiler_rt|\.zig$/) return "compiler-rt (zig)"
    if (index(p, root "/device/") == 1 || p ~ /\/build\/[^\/]+\/device\//) return "owb: the agent (device/)"
    if (index(p, root "/common/") == 1) return "owb: libowb (common/)"
    return "other"
}

function val(s) {
    sub(/^[^(]*\(/, "", s)
    sub(/\)$/, "", s)
    gsub(/"/, "", s)
    return s
}

# Code of functions the link dropped keeps its line rows, at address 0:
# count only rows inside executable sections.
function intext(a, i) {
    for (i = 0; i < nx; i++)
        if (a >= xlo[i] && a < xhi[i]) return 1
    return 0
}

$1 == "S" && /^S +\[ *[0-9]+\]/ {
    s = $0
    sub(/^S +\[ */, "", s)
    i = s + 0
    sub(/^[0-9]+\] +/, "", s)
    split(s, f, / +/)
    secname[i] = f[1]
    sectype[i] = f[2]
    # Kept by -s but never loaded: .pdr (before omega2-discard.ld), .comment.
    if (f[7] !~ /A/ && f[1] !~ /^\.(debug|symtab|strtab|shstrtab)/ && f[2] != "NULL")
        unloaded += hex(f[5])
    if (f[7] ~ /X/) {
        xlo[nx + 0] = hex(f[3])
        xhi[nx++] = hex(f[3]) + hex(f[5])
    }
    next
}

$1 == "I" && /DW_TAG_compile_unit/ { cu = 1; name = ""; dir = ""; stmt = ""; next }
$1 == "I" && cu && /DW_AT_name/ { name = val($0) }
$1 == "I" && cu && /DW_AT_stmt_list/ { stmt = hex(val($0)) }
$1 == "I" && cu && /DW_AT_comp_dir/ { dir = val($0) }
$1 == "I" && cu && /^I *$/ {
    cu = 0
    cudir[stmt] = dir
    cupart = part(name ~ /^\// ? name : dir "/" name)
}
$1 == "I" && /DW_OP_addr 0x/ {
    a = $0
    sub(/.*DW_OP_addr 0x/, "", a)
    sub(/\).*/, "", a)
    varpart[hex(a)] = cupart
}

$1 == "L" && /^L debug_line\[/ {
    a = $2
    sub(/.*\[0x/, "", a)
    sub(/\].*/, "", a)
    comp = cudir[hex(a)]
    split("", dirs)
    split("", fpart)
    prev = -1
    next
}
$1 == "L" && /include_directories\[/ {
    n = $0
    sub(/.*\[ */, "", n)
    sub(/\].*/, "", n)
    d = $0
    sub(/^[^"]*"/, "", d)
    sub(/"$/, "", d)
    dirs[n + 0] = d
    next
}
$1 == "L" && /file_names\[/ {
    n = $0
    sub(/.*\[ */, "", n)
    sub(/\].*/, "", n)
    fn = n + 0
    next
}
$1 == "L" && $2 == "name:" { fname = $3; gsub(/"/, "", fname); next }
$1 == "L" && $2 == "dir_index:" {
    d = $3 + 0 ? dirs[$3 + 0] : comp
    p = fname ~ /^\// ? fname : d "/" fname
    if (p !~ /^\//) p = comp "/" p
    fpart[fn] = part(p)
    next
}
$1 == "L" && $2 ~ /^0x[0-9a-f]+$/ {
    addr = hex($2)
    if (prev >= 0 && addr > prev && intext(prev)) code[pfile] += addr - prev
    if ($0 ~ /end_sequence/) prev = -1
    else { prev = addr; pfile = fpart[$5 + 0] }
    next
}

$1 == "Y" && $5 == "OBJECT" && $8 ~ /^[0-9]+$/ && sectype[$8] != "NOBITS" {
    a = hex($3)
    data[(a in varpart) ? varpart[a] : "other"] += $4
}

function row(label, c, d) {
    printf "| %s | %d | %d | %d (%d KiB) |\n", label, c, d, c + d, (c + d) / 1024
}

END {
    for (p in code) all[p] = 1
    for (p in data) all[p] = 1
    # Largest first, without relying on gawk's sorting.
    while (1) {
        best = ""
        for (p in all)
            if (best == "" || code[p] + data[p] > code[best] + data[best]) best = p
        if (best == "") break
        row(best, code[best], data[best])
        sum += code[best] + data[best]
        delete all[best]
    }
    if (unloaded) printf "| sections never loaded (.pdr, .comment) | | | %d |\n", unloaded
    printf "| ELF headers, GOT, alignment, unnamed data | | | %d |\n", total - sum - unloaded
    printf "| **owb-device (stripped)** | | | **%d (%d KiB)** |\n", total, total / 1024
}
