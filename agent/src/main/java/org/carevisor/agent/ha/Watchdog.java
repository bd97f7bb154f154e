package org.carevisor.agent.ha;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HA watchdog of one agent state directory: a shell script ({@link #SCRIPT}, written to {@code
 * <stateDir>/bin/ha-watchdog.sh}) run in its own session ({@code setsid}), outside the agent's JVM, so that
 * it still acts when the agent is frozen (SIGSTOP), hangs on storage, or is dead. Once a second it reads
 * the files of {@link HaDir}:
 *
 * <ul>
 *   <li>mode {@code agent}: the agent renews the lease; when {@link HaDir#renewed()} is older than the
 *       self-fence time, every QEMU listed in {@link HaDir#pids()} is killed (SIGKILL) and recorded in
 *       {@link HaDir#selfFenced()} first, so the agent can name the cause of the exit;</li>
 *   <li>mode {@code keeper}: the agent was stopped in order and its VMs run on (an upgrade); the watchdog
 *       renews the lease file with the leases the agent signed ahead ({@link KeeperStock}: {@code writer=keeper},
 *       counter continued) so that the manager sees the host alive, and kills as above when it cannot renew for
 *       the self-fence time - also when the stock is used up;</li>
 *   <li>mode {@code off} (or no mode file): nothing.</li>
 * </ul>
 *
 * The watchdog exits when the state directory disappears, when {@link HaDir#watchdogPid()} no longer names
 * it (a newer watchdog started, or {@link #stop} stopped it for good), on SIGTERM, and when it has nothing
 * left to guard: no QEMU process of the state directory runs and the agent process is gone (mode agent) or
 * stopped in order (mode keeper). Its time checks use {@code /proc/uptime}, so wall clock steps do not make
 * it fence early or late once it runs.
 *
 * <p>This class installs, starts, switches and stops the script. Thread-safe.
 */
public final class Watchdog {
    private static final Logger LOG = LoggerFactory.getLogger(Watchdog.class);
    /** The script's file name; also how its processes are recognized. */
    static final String SCRIPT_NAME = "ha-watchdog.sh";
    private static final Duration START_WAIT = Duration.ofSeconds(5);

    /** What the watchdog does; written to {@link HaDir#mode()}. */
    public enum Mode {
        /** The agent renews the lease; the watchdog kills the HA VMs when the renewals stop. */
        AGENT,
        /** The agent was stopped in order; the watchdog renews the lease itself. */
        KEEPER,
        /** The watchdog does nothing. */
        OFF;

        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * The watchdog script. Arguments: state directory, self-fence seconds, lease file, agent pid. POSIX sh;
     * needs date, tr, head, cat, mv, rm, sync and sleep (coreutils or busybox).
     */
    static final String SCRIPT = """
            #!/bin/sh
            # Written by the Carevisor agent (org.carevisor.agent.ha.Watchdog): the HA watchdog of one host. It runs
            # in its own session, outside the agent's JVM, so it acts while the agent is frozen or dead.
            # Once a second, by the mode in STATE_DIR/ha/mode:
            #   agent   the agent renews the storage lease and writes the time into ha/renewed
            #   keeper  the agent was stopped in order while VMs run on: this script renews the lease with the leases
            #           the agent signed ahead (ha/keeper/) and writes ha/renewed after each renewal
            #   off     (or no mode file) nothing
            # In modes agent and keeper, when the last renewal is older than FENCE_SECONDS, every QEMU listed in
            # ha/pids ("<vmId> <pid>" lines: the running HA VMs) is killed with SIGKILL, recorded first in
            # ha/self-fenced as "<epochSeconds> <vmId> <pid> <staleSeconds>".
            # It exits when STATE_DIR disappears, when ha/watchdog.pid names another process, on SIGTERM, and when
            # nothing is left to guard: no QEMU of STATE_DIR runs and the agent is gone (agent) or stopped (keeper).
            # usage: ha-watchdog.sh STATE_DIR FENCE_SECONDS LEASE_FILE AGENT_PID
            state=$1
            fence_ms=$(( $2 * 1000 ))
            lease=$3
            agent=$4
            ha=$state/ha
            me=$$
            stop=0
            keeper_job=
            trap 'stop=1' TERM INT
            trap '' HUP

            # to stdout: the agent opened ha/watchdog.log for it (no file is created while a directory is removed)
            log() {
                printf '%s watchdog %s: %s\\n' "$(date '+%Y-%m-%dT%H:%M:%S%z')" "$me" "$*" 2>/dev/null
            }

            now_ms() {
                t=$(date +%s%3N 2>/dev/null)
                case $t in ''|*[!0-9]*) t=$(( $(date +%s) * 1000 )) ;; esac
                echo "$t"
            }

            # milliseconds since boot (two decimals in /proc/uptime): immune to wall clock steps
            up_ms() {
                read -r u _ < /proc/uptime
                echo $(( ${u%.*} * 1000 + (1${u#*.} - 100) * 10 ))
            }

            # the first word of file $1 when it is a number, else 0
            number() {
                n=
                if [ -f "$1" ]; then read -r n _ 2>/dev/null < "$1"; fi
                case $n in ''|*[!0-9]*) n=0 ;; esac
                echo "$n"
            }

            # replaces file $1 by the line $2, atomically
            put() {
                printf '%s\\n' "$2" 2>/dev/null > "$1.wd.tmp" && mv -f "$1.wd.tmp" "$1"
            }

            # true when process $1 runs a QEMU binary (its argv[0] names qemu): a reused pid is not killed
            is_qemu() {
                [ -r "/proc/$1/cmdline" ] || return 1
                a0=$(tr '\\000' '\\n' 2>/dev/null < "/proc/$1/cmdline" | head -n 1)
                case $a0 in *qemu*) return 0 ;; esac
                return 1
            }

            qemus_running() {
                for f in "$state"/vms/*/qemu.pid; do
                    p=$(number "$f")
                    if [ "$p" -gt 0 ] && is_qemu "$p"; then return 0; fi
                done
                return 1
            }

            # kills the HA QEMUs of ha/pids; $1: seconds since the last renewal
            fence() {
                [ -f "$ha/pids" ] || return 0
                while read -r vm pid _; do
                    case $pid in ''|*[!0-9]*) continue ;; esac
                    is_qemu "$pid" || continue
                    printf '%s %s %s %s\\n' "$(date +%s)" "$vm" "$pid" "$1" >> "$ha/self-fenced"
                    if kill -9 "$pid" 2>/dev/null; then
                        log "self-fence: killed QEMU $pid of VM $vm; the storage lease was not renewed for $1 s"
                    fi
                done < "$ha/pids"
            }

            # writes the next lease the agent signed ahead for the keeper (ha/keeper/<ha/counter + 1>.lease): the
            # script cannot sign; when none is left the renewals stop and the HA VMs are killed as without storage.
            # A lease file found below the counter this host wrote was replaced by someone else: that renewal does
            # not count (no stamp), so hiding this host's renewals from its peers ends with its HA VMs stopped.
            keeper_write() {
                host=
                if [ -f "$state/host-id" ]; then read -r host _ 2>/dev/null < "$state/host-id"; fi
                [ -n "$host" ] || return 1
                mine=$(number "$ha/counter")
                next=$(( mine + 1 ))
                signed=$ha/keeper/$next.lease
                if [ ! -f "$signed" ]; then
                    if [ ! -f "$ha/keeper.exhausted" ]; then
                        : > "$ha/keeper.exhausted"
                        log "no lease $next signed ahead is left in $ha/keeper: renewals stop, the HA VMs are killed when the lease is $(( fence_ms / 1000 )) s old"
                    fi
                    return 1
                fi
                found=-1
                if [ -f "$lease" ]; then
                    while IFS= read -r line; do
                        case $line in counter=*) found=${line#counter=}; break ;; esac
                    done < "$lease"
                fi
                case $found in ''|*[!0-9]*) found=-1 ;; esac
                # the agent may have taken over meanwhile; then it alone writes the lease
                now_mode=
                if [ -f "$ha/mode" ]; then read -r now_mode _ 2>/dev/null < "$ha/mode"; fi
                [ "$now_mode" = keeper ] || return 1
                # in place over the file's own blocks (a full storage has none to give for a new file), unless it
                # is shorter than the lease or no plain file of its own (a symbolic or hard link is never written through)
                have=-1
                if [ -f "$lease" ] && [ ! -L "$lease" ] && [ "$(stat -c %h "$lease" 2>/dev/null)" = 1 ]; then
                    have=$(wc -c < "$lease" 2>/dev/null)
                fi
                case $have in ''|*[!0-9]*) have=-1 ;; esac
                if [ "$have" -ge "$(wc -c < "$signed")" ]; then
                    dd if="$signed" of="$lease" oflag=nofollow conv=notrunc,fdatasync status=none 2>/dev/null \\
                        || return 1
                else
                    tmp=${lease%/*}/.$host.lease.keeper.tmp
                    cat "$signed" 2>/dev/null > "$tmp" || return 1
                    sync "$tmp" 2>/dev/null || sync
                    mv -f "$tmp" "$lease" 2>/dev/null || return 1
                fi
                rm -f "$signed"
                put "$ha/counter" "$next"
                if [ "$found" -lt "$mine" ]; then
                    log "the storage lease file held counter $found, below $mine written by this host: replaced by another writer; not counted as a renewal"
                    return 1
                fi
                put "$ha/renewed" "$(now_ms)"
            }

            # renews in the background: a storage write that hangs must not stop the loop (and the fencing)
            keeper_renew() {
                [ -f "$ha/keeper.busy" ] && return 0
                printf '%s\\n' "$me" 2>/dev/null > "$ha/keeper.busy" || return 0
                ( keeper_write; rm -f "$ha/keeper.busy" ) &
                keeper_job=$!
            }

            quit() {
                if [ -n "$keeper_job" ]; then wait "$keeper_job" 2>/dev/null; fi
                log "exits: $1"
                exit 0
            }

            [ -d "$ha" ] || exit 1
            put "$ha/watchdog.pid" "$me" || exit 1
            rm -f "$ha/keeper.busy"
            log "started: fence after $2 s, lease $lease, agent pid $agent"
            seen=$(number "$ha/renewed")
            lag=$(( $(now_ms) - seen ))
            if [ "$lag" -lt 0 ]; then lag=0; fi
            seen_up=$(( $(up_ms) - lag ))
            mode_was=
            stale_logged=0

            while :; do
                if [ "$stop" = 1 ]; then quit "stopped by a signal"; fi
                [ -d "$state" ] || quit "the state directory is gone"
                [ "$(number "$ha/watchdog.pid")" = "$me" ] || quit "ha/watchdog.pid names another process"
                mode=off
                if [ -f "$ha/mode" ]; then read -r mode _ 2>/dev/null < "$ha/mode"; fi
                if [ "$mode" != "$mode_was" ]; then log "mode $mode"; mode_was=$mode; fi
                up=$(up_ms)
                stamp=$(number "$ha/renewed")
                if [ "$stamp" != "$seen" ]; then
                    lag=$(( $(now_ms) - stamp ))
                    if [ "$lag" -lt 0 ]; then lag=0; elif [ "$lag" -gt 1000 ]; then lag=1000; fi
                    seen=$stamp
                    seen_up=$(( up - lag ))
                fi
                age=$(( up - seen_up ))
                case $mode in
                    agent|keeper)
                        if [ "$mode" = keeper ] && ! qemus_running; then
                            quit "nothing to guard: the agent was stopped and no QEMU runs"
                        fi
                        if [ "$mode" = agent ] && [ ! -d "/proc/$agent" ] && ! qemus_running; then
                            quit "nothing to guard: the agent (pid $agent) is gone and no QEMU runs"
                        fi
                        if [ "$age" -gt "$fence_ms" ]; then fence $(( age / 1000 )); fi
                        if [ "$age" -gt 3000 ] && [ "$stale_logged" = 0 ]; then
                            log "the storage lease was last renewed $(( age / 1000 )) s ago (mode $mode)"
                            stale_logged=1
                        elif [ "$age" -le 3000 ] && [ "$stale_logged" = 1 ]; then
                            log "the storage lease is renewed again"
                            stale_logged=0
                        fi
                        if [ "$mode" = keeper ]; then keeper_renew; fi
                        ;;
                esac
                sleep 1 &
                wait $!
            done
            """;

    private final Path stateDir;
    private final HaDir ha;
    private final Path script;
    private final Path leaseFile;
    private final Duration fenceAfter;

    /**
     * The watchdog of {@code stateDir}, which kills the HA VMs after {@code fenceAfter} (whole seconds)
     * without a renewal of {@code leaseFile}.
     */
    public Watchdog(Path stateDir, Path leaseFile, Duration fenceAfter) {
        if (fenceAfter.toSeconds() < 1) {
            throw new IllegalArgumentException("the self-fence time must be at least 1 s");
        }
        this.stateDir = stateDir.toAbsolutePath().normalize();
        this.ha = new HaDir(this.stateDir);
        this.script = this.stateDir.resolve("bin").resolve(SCRIPT_NAME);
        this.leaseFile = leaseFile.toAbsolutePath().normalize();
        this.fenceAfter = fenceAfter;
    }

    /**
     * Stops a watchdog left by an earlier agent of this state directory, writes the script and starts a new
     * watchdog in the mode the mode file names: a watchdog keeping the lease for a stopped agent keeps doing
     * so until the new agent has renewed the lease and switches it to {@code agent}. Returns the new pid once
     * it runs, or empty when the watchdog found nothing to guard and ended at once (mode keeper, no QEMU).
     */
    public synchronized OptionalLong start() throws IOException {
        stopAny(stateDir, Duration.ofSeconds(5));
        Files.createDirectories(script.getParent());
        Files.createDirectories(ha.path());
        Files.writeString(script, SCRIPT, StandardCharsets.UTF_8);
        Process p = new ProcessBuilder("setsid", "/bin/sh", script.toString(), stateDir.toString(),
                Long.toString(fenceAfter.toSeconds()), leaseFile.toString(),
                Long.toString(ProcessHandle.current().pid()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(ha.watchdogLog().toFile()))
                .start();
        long deadline = System.nanoTime() + START_WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            Optional<Long> pid = pid();
            if (pid.isPresent()) {
                LOG.info("HA watchdog runs as pid {} (self-fence after {} s without lease renewal)", pid.get(),
                        fenceAfter.toSeconds());
                return OptionalLong.of(pid.get());
            }
            if (!p.isAlive()) {
                if (p.exitValue() == 0) {
                    LOG.info("HA watchdog found nothing to guard and ended");
                    return OptionalLong.empty();
                }
                break;
            }
            sleep(20);
        }
        p.destroyForcibly();
        throw new IOException("the HA watchdog " + script + " did not start (see " + ha.watchdogLog() + ")");
    }

    /** Switches the watchdog's mode. */
    public synchronized void mode(Mode mode) throws IOException {
        ha.write(ha.mode(), mode.word() + "\n");
    }

    /** The mode in the mode file; {@link Mode#OFF} without one. */
    public Mode mode() {
        try {
            return ha.readLine(ha.mode()).map(w -> Mode.valueOf(w.toUpperCase(Locale.ROOT))).orElse(Mode.OFF);
        } catch (IOException | IllegalArgumentException e) {
            return Mode.OFF;
        }
    }

    /** The pid of the running watchdog of this state directory, if one runs. */
    public Optional<Long> pid() {
        return running(stateDir);
    }

    /**
     * Stops the watchdog of this state directory for good: mode {@code off}, pid file removed (the script
     * exits within a second by itself then), SIGTERM, SIGKILL after {@code wait}. True when none runs any more.
     */
    public synchronized boolean stop(Duration wait) {
        try {
            mode(Mode.OFF);
        } catch (IOException e) {
            LOG.debug("cannot write the watchdog mode: {}", e.getMessage());
        }
        return stopAny(stateDir, wait);
    }

    /**
     * Stops whatever watchdog runs for {@code stateDir} (a test's clean-up, an earlier agent's watchdog):
     * removes its pid file, sends SIGTERM and after {@code wait} SIGKILL. True when none runs any more.
     */
    public static boolean stopAny(Path stateDir, Duration wait) {
        Path dir = stateDir.toAbsolutePath().normalize();
        Optional<Long> pid = running(dir);
        try {
            Files.deleteIfExists(new HaDir(dir).watchdogPid());
        } catch (IOException e) {
            LOG.debug("cannot remove the watchdog pid file: {}", e.getMessage());
        }
        if (pid.isEmpty()) {
            return true;
        }
        Optional<ProcessHandle> h = ProcessHandle.of(pid.get());
        if (h.isEmpty()) {
            return true;
        }
        h.get().destroy();
        try {
            h.get().onExit().get(wait.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            LOG.warn("HA watchdog pid {} did not end on SIGTERM; killing it", pid.get());
            h.get().destroyForcibly();
            try {
                h.get().onExit().get(5, java.util.concurrent.TimeUnit.SECONDS);
            } catch (Exception again) {
                return !h.get().isAlive();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException e) {
            // cannot happen: onExit completes normally
        }
        return !h.get().isAlive();
    }

    /** The pid in the watchdog pid file of {@code stateDir} when that process is its watchdog script. */
    static Optional<Long> running(Path stateDir) {
        HaDir ha = new HaDir(stateDir);
        long pid = ha.readNumber(ha.watchdogPid());
        return pid > 0 && isWatchdogOf(pid, stateDir) ? Optional.of(pid) : Optional.empty();
    }

    /** True when process {@code pid} runs the watchdog script of {@code stateDir} (guards against reused pids). */
    static boolean isWatchdogOf(long pid, Path stateDir) {
        try {
            String[] argv = new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")),
                    StandardCharsets.UTF_8).split("\0");
            return argv.length >= 3 && argv[1].endsWith("/" + SCRIPT_NAME) && argv[2].equals(stateDir.toString());
        } catch (IOException e) {
            return false;
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
