package org.carevisor.manager.vm;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Function;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.api.ApiException.FieldError;
import org.carevisor.manager.image.ImageRecord;

/**
 * Checks VM requests before anything changes and collects every problem with the field it concerns.
 * Pure apart from the lookups passed in; thread-safe.
 */
public final class VmValidator {
    public static final int MIN_MEMORY_MIB = 16;
    public static final long MiB = 1L << 20;
    private static final Set<String> FORMATS = Set.of("qcow2", "raw");

    /** What the hosts can offer; the largest host bounds a single VM. */
    public record Capacity(int maxCpus, long maxMemoryMiB, long storageFreeBytes) {
    }

    /** A disk that passed validation: its source image (or null) and size. */
    public record PlannedDisk(ImageRecord image, long sizeBytes, String format) {
    }

    /** A NIC that passed validation. */
    public record PlannedNic(String network, List<VmRequests.Forward> forwards) {
    }

    /** The validated create request. */
    public record Plan(String name, String description, int cpus, int memoryMiB, List<PlannedDisk> disks,
                       List<PlannedNic> nics, boolean start, boolean local) {
    }

    private VmValidator() {
    }

    /**
     * Validates a create request ({@code POST /vms}); throws a 400 naming every invalid field. A VM needs a disk
     * to boot from: an image or a blank disk.
     */
    public static Plan create(VmRequests.Create r, Capacity capacity, Function<String, ImageRecord> images,
                              Function<String, org.carevisor.manager.network.NetworkRecord> networks) {
        return create(r, capacity, images, networks, true);
    }

    /**
     * Validates a VM's settings; {@code needsDisk} false where the disks come from elsewhere (an import's
     * manifest).
     */
    public static Plan create(VmRequests.Create r, Capacity capacity, Function<String, ImageRecord> images,
                              Function<String, org.carevisor.manager.network.NetworkRecord> networks,
                              boolean needsDisk) {
        List<FieldError> errors = new ArrayList<>();
        String nameProblem = VmNames.problem(r.name());
        if (nameProblem != null) {
            errors.add(new FieldError("name", nameProblem));
        }
        checkDescription(r.description(), errors);
        checkCpus(r.cpus(), capacity, errors, true);
        checkMemory(r.memoryMiB(), capacity, errors, true);

        List<PlannedDisk> disks = new ArrayList<>();
        if (r.image() != null) {
            ImageRecord image = images.apply(r.image());
            if (image == null) {
                errors.add(new FieldError("image", "no image with id or name '" + r.image()
                        + "'; list them with carevisor image list (GET /api/v1/images)"));
            } else {
                long size = image.virtualSizeBytes();
                if (r.diskSizeMiB() != null) {
                    if (r.diskSizeMiB() * MiB < image.virtualSizeBytes()) {
                        errors.add(new FieldError("diskSizeMiB", "must be at least the image's size of "
                                + ceilMiB(image.virtualSizeBytes()) + " MiB"));
                    }
                    size = Math.max(size, r.diskSizeMiB() * MiB);
                }
                disks.add(new PlannedDisk(image, size, "qcow2"));
            }
        } else if (r.diskSizeMiB() != null) {
            errors.add(new FieldError("diskSizeMiB", "only applies together with 'image'"));
        }
        List<VmRequests.Disk> extra = r.disks() == null ? List.of() : r.disks();
        if (extra.size() + disks.size() > 8) {
            errors.add(new FieldError("disks", "at most 8 disks per VM"));
        }
        for (int i = 0; i < extra.size(); i++) {
            VmRequests.Disk d = extra.get(i);
            String f = "disks[" + i + "]";
            if (d == null) {
                errors.add(new FieldError(f, "must be an object"));
                continue;
            }
            String format = d.format() == null ? "qcow2" : d.format().toLowerCase(Locale.ROOT);
            if (!FORMATS.contains(format)) {
                errors.add(new FieldError(f + ".format", "must be qcow2 or raw"));
            }
            if (d.image() != null) {
                ImageRecord image = images.apply(d.image());
                if (image == null) {
                    errors.add(new FieldError(f + ".image", "no image with id or name '" + d.image() + "'"));
                    continue;
                }
                long size = image.virtualSizeBytes();
                if (d.sizeMiB() != null) {
                    if (d.sizeMiB() * MiB < size) {
                        errors.add(new FieldError(f + ".sizeMiB", "must be at least the image's size of "
                                + ceilMiB(size) + " MiB"));
                    }
                    size = Math.max(size, d.sizeMiB() * MiB);
                }
                disks.add(new PlannedDisk(image, size, format));
            } else if (d.sizeMiB() == null) {
                errors.add(new FieldError(f + ".sizeMiB", "is required for a blank disk (or give 'image')"));
            } else if (d.sizeMiB() < 1) {
                errors.add(new FieldError(f + ".sizeMiB", "must be at least 1"));
            } else {
                disks.add(new PlannedDisk(null, d.sizeMiB() * MiB, format));
            }
        }
        if (needsDisk && r.image() == null && extra.isEmpty()) {
            errors.add(new FieldError("image", "a VM needs a disk to boot from: give an image to copy (carevisor vm"
                    + " create --image NAME; list them with carevisor image list, GET /api/v1/images) or a disk"
                    + " (--disk SIZE, \"disks\": [{\"sizeMiB\": ...}])"));
        }
        long total = disks.stream().mapToLong(PlannedDisk::sizeBytes).sum();
        if (total > capacity.storageFreeBytes()) {
            String field = r.disks() != null && !r.disks().isEmpty() ? "disks[" + (r.disks().size() - 1) + "].sizeMiB"
                    : r.diskSizeMiB() != null ? "diskSizeMiB" : "image";
            errors.add(new FieldError(field, "the disks need " + ceilMiB(total) + " MiB but the storage has only "
                    + capacity.storageFreeBytes() / MiB + " MiB free"));
        }

        List<PlannedNic> nics = new ArrayList<>();
        if (r.nics() == null) {
            nics.add(new PlannedNic("user", List.of(new VmRequests.Forward("tcp", 80, null))));
        } else {
            for (int i = 0; i < r.nics().size(); i++) {
                VmRequests.Nic n = r.nics().get(i);
                String f = "nics[" + i + "]";
                if (n == null) {
                    errors.add(new FieldError(f, "must be an object"));
                    continue;
                }
                String network = n.network() == null ? "user" : n.network();
                org.carevisor.manager.network.NetworkRecord net = networks.apply(network);
                if (net == null) {
                    errors.add(new FieldError(f + ".network", "no network '" + network
                            + "'; list them with carevisor network list (GET /api/v1/networks)"));
                }
                List<VmRequests.Forward> forwards = n.forwards() == null ? List.of() : n.forwards();
                if (net != null && net.bridged() && !forwards.isEmpty()) {
                    errors.add(new FieldError(f + ".forwards", "port forwards exist only on the 'user' network; a"
                            + " guest on network '" + network + "' is reached at its own address"));
                }
                for (int j = 0; j < forwards.size(); j++) {
                    checkForward(forwards.get(j), f + ".forwards[" + j + "]", errors);
                }
                nics.add(new PlannedNic(network, forwards));
            }
            if (r.nics().size() > 4) {
                errors.add(new FieldError("nics", "at most 4 NICs per VM"));
            }
        }
        if (r.storage() != null && !r.storage().equals("shared") && !r.storage().equals("local")) {
            errors.add(new FieldError("storage", "must be 'shared' (the cluster's storage domain) or 'local' (the"
                    + " host's own disks; the VM cannot move)"));
        }
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
        return new Plan(r.name(), r.description(), r.cpus(), r.memoryMiB(), disks, nics,
                Boolean.TRUE.equals(r.start()), "local".equals(r.storage()));
    }

    /** Validates a change; returns the values after it. */
    public static VmRequests.Patch patch(VmRecord vm, VmRequests.Patch p, Capacity capacity) {
        List<FieldError> errors = new ArrayList<>();
        if (p.name() != null) {
            String problem = VmNames.problem(p.name());
            if (problem != null) {
                errors.add(new FieldError("name", problem));
            }
        }
        checkDescription(p.description(), errors);
        checkCpus(p.cpus(), capacity, errors, false);
        checkMemory(p.memoryMiB(), capacity, errors, false);
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
        return new VmRequests.Patch(p.name() == null ? vm.name() : p.name(),
                p.description() == null ? vm.description() : p.description(),
                p.cpus() == null ? vm.cpus() : p.cpus(), p.memoryMiB() == null ? vm.memoryMiB() : p.memoryMiB(),
                p.gxp() == null ? vm.gxp() : p.gxp(), null);
    }

    /**
     * Validates the name, vCPUs and memory of a VM that is made from something else (a template, a clone, an
     * import); throws a 400 naming every invalid field.
     */
    public static void checkNew(String name, String description, int cpus, int memoryMiB, Capacity capacity) {
        List<FieldError> errors = new ArrayList<>();
        String nameProblem = VmNames.problem(name);
        if (nameProblem != null) {
            errors.add(new FieldError("name", nameProblem));
        }
        checkDescription(description, errors);
        checkCpus(cpus, capacity, errors, true);
        checkMemory(memoryMiB, capacity, errors, true);
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
    }

    private static void checkDescription(String d, List<FieldError> errors) {
        if (d != null && d.length() > 1000) {
            errors.add(new FieldError("description", "must be at most 1000 characters"));
        }
    }

    private static void checkCpus(Integer cpus, Capacity c, List<FieldError> errors, boolean required) {
        if (cpus == null) {
            if (required) {
                errors.add(new FieldError("cpus", "is required"));
            }
        } else if (cpus < 1) {
            errors.add(new FieldError("cpus", "must be at least 1 (got " + cpus + ")"));
        } else if (cpus > c.maxCpus()) {
            errors.add(new FieldError("cpus", "must not exceed the host's " + c.maxCpus() + " CPUs (got " + cpus + ")"));
        }
    }

    private static void checkMemory(Integer memory, Capacity c, List<FieldError> errors, boolean required) {
        if (memory == null) {
            if (required) {
                errors.add(new FieldError("memoryMiB", "is required"));
            }
        } else if (memory < MIN_MEMORY_MIB) {
            errors.add(new FieldError("memoryMiB", "must be at least " + MIN_MEMORY_MIB + " MiB (got " + memory + ")"));
        } else if (memory > c.maxMemoryMiB()) {
            errors.add(new FieldError("memoryMiB", "must not exceed the host's " + c.maxMemoryMiB()
                    + " MiB of memory (got " + memory + ")"));
        }
    }

    private static void checkForward(VmRequests.Forward fw, String f, List<FieldError> errors) {
        if (fw == null) {
            errors.add(new FieldError(f, "must be an object"));
            return;
        }
        String protocol = fw.protocol() == null ? "tcp" : fw.protocol();
        if (!protocol.equals("tcp") && !protocol.equals("udp")) {
            errors.add(new FieldError(f + ".protocol", "must be tcp or udp"));
        }
        if (fw.guestPort() == null) {
            errors.add(new FieldError(f + ".guestPort", "is required"));
        } else if (fw.guestPort() < 1 || fw.guestPort() > 65535) {
            errors.add(new FieldError(f + ".guestPort", "must be between 1 and 65535"));
        }
        if (fw.hostPort() != null && (fw.hostPort() < 1024 || fw.hostPort() > 65535)) {
            errors.add(new FieldError(f + ".hostPort", "must be between 1024 and 65535"));
        }
    }

    static long ceilMiB(long bytes) {
        return (bytes + MiB - 1) / MiB;
    }
}
