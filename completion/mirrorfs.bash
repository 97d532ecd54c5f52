# bash completion for mirrorfs, mirrorfs-replicator, mirrorfsctl and
# mirrorfs-journal.  -*- shell-script -*-
#
# One file, installed under each program's name: bash-completion loads it
# by the name of the command being completed, and it registers all four.
# It needs nothing from bash-completion itself.

# The word being completed as the user sees it (bash splits words at the
# characters of COMP_WORDBREAKS, '=' and ':' among them).
_mirrorfs_word()
{
        local line=${COMP_LINE:0:COMP_POINT}
        REPLY=${line##*[[:space:]]}
}

# Offer the whole-word candidates "$@" for the word $1, cut to the part
# readline replaces: what follows the last COMP_WORDBREAKS character.
_mirrorfs_offer()
{
        local word=$1 head c
        shift
        head=${word%"${word##*["$COMP_WORDBREAKS"]}"}
        for c in "$@"; do
                [[ $c == "$word"* ]] && COMPREPLY+=("${c#"$head"}")
        done
}

_mirrorfs_dirs()
{
        local IFS=$'\n'
        compopt -o filenames 2>/dev/null
        COMPREPLY+=($(compgen -d -- "$1"))
}

_mirrorfs_files()
{
        local IFS=$'\n'
        compopt -o filenames 2>/dev/null
        COMPREPLY+=($(compgen -f -- "$1"))
}

# Cursor names in the journal directory $1 (cursor.NAME files).
_mirrorfs_cursors()
{
        local f names=()
        [[ -d $1 ]] || return
        for f in "$1"/cursor.*; do
                [[ -f $f && $f != *.tmp ]] && names+=("${f##*/cursor.}")
        done
        COMPREPLY+=($(compgen -W "${names[*]}" -- "$2"))
}

# ---- mirrorfs SOURCE MOUNTPOINT -o OPTION[,OPTION...] ----

_mirrorfs_o_names="journal= target= replicate= workers= drain_timeout= socket=
        socket_group= durability= commit_interval_ms= segment_size= passthrough=
        writeback= timeout= dircache= threads= clone_fd= noflush= readdirplus= debug
        allow_other allow_root ro rw noatime nodiratime nosuid nodev noexec
        max_read= auto_unmount"

# Complete the -o argument $1 (without the -o), offered as $2$1.
_mirrorfs_o()
{
        local arg=$1 lead=$2 given opt key value v full=() vals=()
        local IFS=$' \t\n'

        given=${arg%"${arg##*,}"}       # the options before the last comma
        opt=${arg##*,}                  # the one being typed
        if [[ $opt == *=* ]]; then
                key=${opt%%=*}
                value=${opt#*=}
                case $key in
                journal | target)
                        local IFS=$'\n'
                        for v in $(compgen -d -- "$value"); do vals+=("$v/"); done
                        ;;
                socket)
                        local IFS=$'\n'
                        vals=($(compgen -f -- "$value"))
                        ;;
                socket_group) vals=($(compgen -g -- "$value")) ;;
                replicate | clone_fd | noflush | writeback | readdirplus)
                        vals=($(compgen -W "on off" -- "$value")) ;;
                durability) vals=($(compgen -W "strict batch none" -- "$value")) ;;
                passthrough) vals=($(compgen -W "auto on off" -- "$value")) ;;
                esac
                for v in "${vals[@]}"; do full+=("$lead$given$key=$v"); done
        else
                for v in $_mirrorfs_o_names; do full+=("$lead$given$v"); done
        fi
        _mirrorfs_offer "$lead$arg" "${full[@]}"
        compopt -o nospace 2>/dev/null
}

_mirrorfs()
{
        local cur=${COMP_WORDS[COMP_CWORD]} line word before prev t skip=0 nonopts=0
        local IFS=$' \t\n'
        COMPREPLY=()

        # Work on whitespace-separated words: bash's own split breaks
        # "journal=/x" at the '='.
        line=${COMP_LINE:0:COMP_POINT}
        word=${line##*[[:space:]]}
        before=${line%"$word"}
        read -ra toks <<<"$before"
        prev=${toks[${#toks[@]}-1]}
        if [[ $prev == -o ]]; then
                _mirrorfs_o "$word" ""
                return
        fi
        if [[ $word == -o?* ]]; then
                _mirrorfs_o "${word#-o}" "-o"
                return
        fi
        if [[ $word == -* ]]; then
                COMPREPLY=($(compgen -W "-o -f -d -s -h --help -V --version" -- "$word"))
                return
        fi
        # SOURCE, then MOUNTPOINT
        for t in "${toks[@]:1}"; do
                if ((skip)); then
                        skip=0
                elif [[ $t == -o ]]; then
                        skip=1
                elif [[ $t != -* ]]; then
                        ((nonopts++))
                fi
        done
        ((nonopts < 2)) && _mirrorfs_dirs "$cur"
}

# ---- mirrorfs-replicator ----

_mirrorfs_replicator()
{
        local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} i journal=''
        COMPREPLY=()
        for ((i = 1; i < COMP_CWORD; i++)); do
                [[ ${COMP_WORDS[i]} == --journal ]] && journal=${COMP_WORDS[i+1]}
        done
        case $prev in
        --journal | --source | --target) _mirrorfs_dirs "$cur"; return ;;
        --socket) _mirrorfs_files "$cur"; return ;;
        --backend) COMPREPLY=($(compgen -W "uring plain" -- "$cur")); return ;;
        --cursor) _mirrorfs_cursors "$journal" "$cur"; return ;;
        --workers) COMPREPLY=($(compgen -W "1 2 4 8 16 32 64" -- "$cur")); return ;;
        --drain-timeout | --retention | --sync-interval | --settle) return ;;
        esac
        COMPREPLY=($(compgen -W "--journal --source --target --once --workers --cursor
                --backend --drain-timeout --retention --socket --sync-interval --settle
                -q --quiet -h --help --version" -- "$cur"))
}

# ---- mirrorfsctl [--socket PATH | --mount DIR] COMMAND [ARGS] ----

_mirrorfsctl()
{
        local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} i verb=''
        local verbs="status sync pause resume workers metrics report dead-letters retry version"
        COMPREPLY=()
        for ((i = 1; i < COMP_CWORD; i++)); do
                case ${COMP_WORDS[i]} in
                --socket | --mount | --timeout | --since | --by) ((i++)) ;;
                -*) ;;
                *) verb=${COMP_WORDS[i]}; break ;;
                esac
        done
        case $prev in
        --socket)
                if [[ -z $cur && -d /run/mirrorfs ]]; then
                        local IFS=$'\n'
                        COMPREPLY=($(compgen -G '/run/mirrorfs/*.sock'))
                        [[ ${#COMPREPLY[@]} -gt 0 ]] && return
                fi
                _mirrorfs_files "$cur"
                return
                ;;
        --mount) _mirrorfs_dirs "$cur"; return ;;
        --by) COMPREPLY=($(compgen -W "hour" -- "$cur")); return ;;
        --timeout | --since) return ;;
        esac
        if [[ -z $verb ]]; then
                if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "--socket --mount --json -h --help --version" -- "$cur"))
                else
                        COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
                fi
                return
        fi
        case $verb in
        status | dead-letters) COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
        sync) COMPREPLY=($(compgen -W "--timeout --json" -- "$cur")) ;;
        report) COMPREPLY=($(compgen -W "--since --by --json" -- "$cur")) ;;
        workers)
                [[ $cur == -* ]] || COMPREPLY=($(compgen -W "1 2 4 8 16 32 64" -- "$cur")) ;;
        pause | resume | retry) COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
        esac
}

# ---- mirrorfs-journal COMMAND [ARGS] ----

_mirrorfs_journal()
{
        local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} i cmd='' dir=''
        local cmds="ls dump tail stat check trim report dead-letters bench help"
        COMPREPLY=()
        if ((COMP_CWORD == 1)); then
                if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "-h --help --version" -- "$cur"))
                else
                        COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
                fi
                return
        fi
        cmd=${COMP_WORDS[1]}
        # the journal directory given so far (for cursor names)
        for ((i = 2; i < COMP_CWORD; i++)); do
                case ${COMP_WORDS[i]} in
                --from | --to | -n | --lines | --retention | --cursor | --since | --by) ((i++)) ;;
                -*) ;;
                *) dir=${COMP_WORDS[i]} ;;
                esac
        done
        case $prev in
        --cursor) _mirrorfs_cursors "$dir" "$cur"; return ;;
        --by) COMPREPLY=($(compgen -W "hour" -- "$cur")); return ;;
        --durability) COMPREPLY=($(compgen -W "strict batch none" -- "$cur")); return ;;
        --dir) _mirrorfs_dirs "$cur"; return ;;
        --from | --to | -n | --lines | --retention | --since | --records | --threads | \
        --commit-interval-us | --segment-size)
                return ;;
        esac
        local opts=
        case $cmd in
        dump) opts="--json --from --to" ;;
        tail) opts="-f --follow -n --lines --json --to" ;;
        trim) opts="--retention" ;;
        report) opts="--cursor --since --by --json" ;;
        dead-letters) opts="--cursor" ;;
        bench)
                COMPREPLY=($(compgen -W "--dir --records --threads --durability
                        --commit-interval-us --segment-size" -- "$cur"))
                return
                ;;
        ls | stat | check) ;;
        *) return ;;
        esac
        if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        elif [[ -z $dir ]]; then
                _mirrorfs_dirs "$cur"
        fi
}

complete -F _mirrorfs mirrorfs
complete -F _mirrorfs_replicator mirrorfs-replicator
complete -F _mirrorfsctl mirrorfsctl
complete -F _mirrorfs_journal mirrorfs-journal
