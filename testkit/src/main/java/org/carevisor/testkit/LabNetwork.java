package org.carevisor.testkit;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The network of a multi-host lab: one network namespace per host on a shared bridge, made by
 * {@code scripts/lab-net.sh} (the same script {@code ./carevisor lab} uses). Needs root.
 * Host i has address 10.77.INDEX.(10+i); guests get 10.77.INDEX.100-199; the manager listens on
 * 10.77.INDEX.1.
 */
public final class LabNetwork implements AutoCloseable {
    /** Lab networks of tests use these indexes; {@code ./carevisor lab} uses lower ones. */
    static final int FIRST_TEST_INDEX = 100;
    static final int LAST_TEST_INDEX = 199;

    private final int index;
    private final int hosts;

    private LabNetwork(int index, int hosts) {
        this.index = index;
        this.hosts = hosts;
    }

    /** True when this process can make lab networks (it runs as root). */
    public static boolean available() {
        return "root".equals(System.getProperty("user.name"));
    }

    /** Removes stale test networks (no process inside), then creates a new one. */
    public static LabNetwork create(int hosts) throws IOException {
        script("prune", Integer.toString(FIRST_TEST_INDEX), Integer.toString(LAST_TEST_INDEX));
        int index = Integer.parseInt(script("free-index", Integer.toString(FIRST_TEST_INDEX),
                Integer.toString(LAST_TEST_INDEX)).strip());
        script("up", Integer.toString(index), Integer.toString(hosts));
        return new LabNetwork(index, hosts);
    }

    public int hosts() {
        return hosts;
    }

    /** The manager's address on the lab bridge. */
    public String managerAddress() {
        return "10.77." + index + ".1";
    }

    /** The address of host {@code i} (1-based). */
    public String hostAddress(int i) {
        return "10.77." + index + "." + (10 + i);
    }

    public String namespace(int i) {
        return "cvl" + index + "h" + i;
    }

    public String cidr() {
        return "10.77." + index + ".0/24";
    }

    /** The bridge VM NICs join on every host. */
    public static String vmBridge() {
        return "cvlab0";
    }

    /** Cuts host {@code i} off the network (its link to the shared bridge goes down) or joins it again. */
    public void link(int i, boolean up) throws IOException {
        run(List.of("ip", "link", "set", "cvl" + index + "v" + i, up ? "up" : "down"));
    }

    @Override
    public void close() {
        try {
            script("down", Integer.toString(index));
        } catch (IOException e) {
            System.err.println("lab network " + index + " could not be removed: " + e.getMessage());
        }
    }

    private static String script(String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(JavaProcess.repositoryFile("scripts/lab-net.sh").toString());
        cmd.addAll(List.of(args));
        return run(cmd);
    }

    private static String run(List<String> cmd) throws IOException {
        return Commands.run(Duration.ofSeconds(60), cmd);
    }
}
