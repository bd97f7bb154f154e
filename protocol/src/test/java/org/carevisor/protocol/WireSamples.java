package org.carevisor.protocol;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A sample of every record of the agent protocol, every component set (the nested records too), built from the
 * components' types and names: the same call gives the same value, so the golden documents can be compared.
 */
final class WireSamples {
    static final String UUID = "0b6f3f0e-4a8e-4c55-9a3c-2f5a4ad1c0de";
    private static final Instant AT = Instant.parse("2026-12-01T10:00:00Z");

    private WireSamples() {
    }

    /** Every record that crosses the wire (kept complete by WireCompatibilityTest). */
    static List<Class<?>> records() {
        return List.of(ActivateRequest.class, AgentEndpoint.class, AgentProblem.class, ChecksumRequest.class,
                ChecksumResult.class, ConsoleChunk.class, ExportRequest.Disk.class, DiskCreateRequest.class,
                DiskSnapshotRequest.class, DiskSpec.class, DrainRequest.class, EnrollRequest.class,
                EnrollResponse.class, ExportRequest.class, ExportResult.class, ExportResult.ExportedDisk.class,
                FileMoveRequest.class, HostAddress.class, HostInventory.class, HostReport.class, ImageInfo.class,
                ImportRequest.class, ImportResult.class, ImportResult.ImportedDisk.class, IncomingRequest.class,
                IncomingResponse.class, LeaseSeen.class, MigrationFinish.class, MigrationRequest.class,
                MigrationStatus.class, MigrationUri.class, NicSpec.class, PortForward.class, PowerOffAnswer.class,
                SignedLease.Released.class, ReportAck.class, ShutdownRequest.class, SignedLease.class,
                SnapshotRequest.class, SnapshotResult.class, VmSpec.class, VmStatus.class);
    }

    static Object sample(Class<?> type) {
        if (type == HostAddress.class) {
            return HostAddress.parse("10.77.0.12");
        }
        RecordComponent[] components = type.getRecordComponents();
        Class<?>[] types = new Class<?>[components.length];
        Object[] values = new Object[components.length];
        for (int i = 0; i < components.length; i++) {
            types[i] = components[i].getType();
            values[i] = value(type, components[i].getName(), components[i].getGenericType());
        }
        try {
            Constructor<?> c = type.getDeclaredConstructor(types);
            c.setAccessible(true);
            return c.newInstance(values);
        } catch (InvocationTargetException e) {
            throw new IllegalStateException("the sample of " + type.getSimpleName() + " is refused: "
                    + e.getCause().getMessage(), e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Object value(Class<?> owner, String name, Type generic) {
        Class<?> raw = generic instanceof ParameterizedType p ? (Class<?>) p.getRawType() : (Class<?>) generic;
        if (raw == String.class) {
            return string(owner, name);
        }
        if (raw == int.class || raw == Integer.class) {
            return switch (name) {
                case "port", "hostPort" -> 49152;
                case "guestPort" -> 80;
                case "memoryMiB" -> 128;
                case "status" -> 409;
                default -> 2;
            };
        }
        if (raw == long.class || raw == Long.class) {
            return 3L;
        }
        if (raw == boolean.class || raw == Boolean.class) {
            return true;
        }
        if (raw == double.class || raw == Double.class) {
            return 1.5;
        }
        if (raw == Instant.class) {
            return AT;
        }
        if (raw == Duration.class) {
            return Duration.ofSeconds(7);
        }
        if (raw.isEnum()) {
            return raw.getEnumConstants()[raw.getEnumConstants().length - 1];
        }
        if (raw == List.class) {
            Type element = ((ParameterizedType) generic).getActualTypeArguments()[0];
            return List.of(value(owner, singular(name), element));
        }
        if (raw == Map.class) {
            Type v = ((ParameterizedType) generic).getActualTypeArguments()[1];
            return Map.of(string(owner, "path"), value(owner, name, v));
        }
        if (raw.isRecord()) {
            return sample(raw);
        }
        throw new IllegalStateException("no sample for " + owner.getSimpleName() + "." + name + " of type " + generic);
    }

    private static String singular(String name) {
        return name.endsWith("s") ? name.substring(0, name.length() - 1) : name;
    }

    private static String string(Class<?> owner, String name) {
        String n = name.toLowerCase(java.util.Locale.ROOT);
        if (n.endsWith("id") || n.equals("tag") || n.equals("havm") || n.equals("peer")) {
            return UUID;
        }
        if (n.contains("sha256")) {
            return "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        }
        if (n.contains("pem")) {
            return "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        }
        return switch (n) {
            case "mac" -> "52:54:00:12:34:56";
            case "name", "hostname" -> "ehr-db";
            case "format" -> "qcow2";
            case "address" -> "10.77.0.100/24";
            case "gateway" -> "10.77.0.1";
            case "protocol" -> "tcp";
            case "hostaddress" -> "127.0.0.1";
            case "machine" -> "pc";
            case "cpumodel" -> "qemu64";
            case "network", "bridge" -> "cvbr0";
            case "uri" -> "tcp:10.77.0.12:49152";
            case "endpoint" -> "https://10.77.0.12:8444";
            case "path", "from", "to", "source", "target", "targetdir", "file" ->
                    "/var/lib/carevisor/storage/vms/" + UUID + "/disk0.qcow2";
            default -> name + "-1";
        };
    }
}
