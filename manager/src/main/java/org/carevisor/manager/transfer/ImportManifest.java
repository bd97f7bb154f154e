package org.carevisor.manager.transfer;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.api.ApiException.FieldError;
import org.carevisor.manager.network.NetworkRecord;
import org.carevisor.manager.vm.VmRequests;
import org.carevisor.manager.vm.VmValidator;

/**
 * The manager's reading of an export manifest before an import: every value the new VM takes from it (id,
 * name, description, vCPUs, memory, NICs with MACs and forwards, disks) is checked with the rules of a create
 * ({@link VmValidator}) and the file's own rules (disk {@code i} is {@code disk<i>}, stored as
 * {@code disks/disk<i>.<qcow2|raw>}; a kept identity is a UUID). Problems name the manifest field
 * ({@code manifest.vm.cpus}, {@code manifest.disks[0].id}) and are answered 422 {@code invalid-export}; a bad
 * {@code name} given in the request itself is a 400 on {@code name}. Pure apart from the lookups passed in;
 * thread-safe.
 *
 * @param vmId        the exported VM's id (a UUID; only used with identity keep)
 * @param name        the name of the new VM (the request's, else the exported one)
 * @param exportedName the exported VM's name as the file says (for the audit trail)
 * @param description the exported description (may be null)
 * @param nics        the NICs as a create would take them
 * @param macs        each NIC's exported MAC address
 * @param disks       each disk: format and virtual size
 */
public record ImportManifest(String vmId, String name, String exportedName, String description, int cpus,
                             int memoryMiB, List<VmValidator.PlannedNic> nics, List<String> macs, List<Disk> disks) {
    /** The largest manifest the manager reads (the agent refuses larger ones too). */
    public static final int MAX_BYTES = 1 << 20;
    private static final int MAX_DISKS = 8;
    private static final int MAX_FORWARDS = 16;
    private static final long MAX_VIRTUAL_BYTES = 64L << 40;
    private static final Pattern UUID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    private static final Pattern MAC = Pattern.compile("[0-9a-f]{2}(:[0-9a-f]{2}){5}");
    private static final ObjectMapper STRICT = JsonMapper.builder(JsonFactory.builder()
                    .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(32)
                            .maxStringLength(MAX_BYTES).maxNumberLength(32).build()).build())
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    /** A disk of the manifest. */
    public record Disk(String format, long virtualSizeBytes) {
    }

    public ImportManifest {
        nics = List.copyOf(nics);
        macs = List.copyOf(macs);
        disks = List.copyOf(disks);
    }

    /**
     * Reads {@code json} (the manifest an agent verified against its checksum) for an import.
     *
     * @param requestedName the request's {@code name} (null: the exported name)
     * @param keepIdentity  the VM keeps the exported UUID and MACs
     * @param networks      looks up a network by name (null when there is none)
     */
    public static ImportManifest read(String json, String requestedName, boolean keepIdentity,
                                      VmValidator.Capacity capacity, Function<String, NetworkRecord> networks) {
        JsonNode root;
        try {
            if (json == null || json.getBytes(StandardCharsets.UTF_8).length > MAX_BYTES) {
                throw new IOException("the manifest is larger than " + MAX_BYTES + " bytes");
            }
            root = STRICT.readTree(json);
        } catch (IOException e) {
            throw refused(List.of(new FieldError("manifest", "is not valid JSON: "
                    + String.valueOf(e.getMessage()).lines().findFirst().orElse(""))));
        }
        List<FieldError> errors = new ArrayList<>();
        JsonNode vm = root == null ? null : root.get("vm");
        if (vm == null || !vm.isObject()) {
            throw refused(List.of(new FieldError("manifest.vm", "is missing or not an object")));
        }
        String vmId = text(vm, "id", "manifest.vm.id", keepIdentity, errors);
        if (keepIdentity && vmId != null && !UUID.matcher(vmId).matches()) {
            errors.add(new FieldError("manifest.vm.id", "is not a VM id (a lower-case UUID); import it with identity"
                    + " 'new' to give it one"));
        }
        String exportedName = text(vm, "name", "manifest.vm.name", requestedName == null, errors);
        String description = text(vm, "description", "manifest.vm.description", false, errors);
        Integer cpus = integer(vm, "cpus", "manifest.vm.cpus", errors);
        Integer memory = integer(vm, "memoryMiB", "manifest.vm.memoryMiB", errors);

        List<VmRequests.Nic> nics = new ArrayList<>();
        List<String> macs = new ArrayList<>();
        JsonNode nicList = vm.get("nics");
        if (nicList != null && !nicList.isArray()) {
            errors.add(new FieldError("manifest.vm.nics", "must be a list"));
        } else if (nicList != null) {
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < nicList.size(); i++) {
                String f = "manifest.vm.nics[" + i + "]";
                JsonNode n = nicList.get(i);
                if (!n.isObject()) {
                    errors.add(new FieldError(f, "must be an object"));
                    continue;
                }
                String network = text(n, "network", f + ".network", false, errors);
                String mac = text(n, "mac", f + ".mac", keepIdentity, errors);
                if (keepIdentity && mac != null) {
                    if (!MAC.matcher(mac).matches() || (Integer.parseInt(mac.substring(0, 2), 16) & 1) != 0) {
                        errors.add(new FieldError(f + ".mac", "must be a unicast MAC address like 52:54:00:12:34:56"));
                    } else if (!seen.add(mac)) {
                        errors.add(new FieldError(f + ".mac", "is given to two NICs"));
                    }
                }
                macs.add(mac);
                List<VmRequests.Forward> forwards = new ArrayList<>();
                JsonNode fl = n.get("forwards");
                if (fl != null && (!fl.isArray() || fl.size() > MAX_FORWARDS)) {
                    errors.add(new FieldError(f + ".forwards", "must be a list of at most " + MAX_FORWARDS));
                } else if (fl != null) {
                    for (int j = 0; j < fl.size(); j++) {
                        String ff = f + ".forwards[" + j + "]";
                        JsonNode fw = fl.get(j);
                        if (!fw.isObject()) {
                            errors.add(new FieldError(ff, "must be an object"));
                            continue;
                        }
                        forwards.add(new VmRequests.Forward(text(fw, "protocol", ff + ".protocol", false, errors),
                                integer(fw, "guestPort", ff + ".guestPort", errors), null));
                    }
                }
                nics.add(new VmRequests.Nic(network, forwards));
            }
        }

        List<Disk> disks = new ArrayList<>();
        JsonNode diskList = root.get("disks");
        if (diskList == null || !diskList.isArray()) {
            errors.add(new FieldError("manifest.disks", "must be a list"));
        } else if (diskList.size() > MAX_DISKS) {
            errors.add(new FieldError("manifest.disks", "lists " + diskList.size() + " disks; at most " + MAX_DISKS));
        } else {
            long total = 0;
            for (int i = 0; i < diskList.size(); i++) {
                String f = "manifest.disks[" + i + "]";
                JsonNode d = diskList.get(i);
                if (!d.isObject()) {
                    errors.add(new FieldError(f, "must be an object"));
                    continue;
                }
                String id = text(d, "id", f + ".id", true, errors);
                String format = text(d, "format", f + ".format", true, errors);
                String file = text(d, "file", f + ".file", true, errors);
                if (id != null && !id.equals("disk" + i)) {
                    errors.add(new FieldError(f + ".id", "must be disk" + i + " (disks are numbered in order)"));
                }
                if (format != null && !format.equals("qcow2") && !format.equals("raw")) {
                    errors.add(new FieldError(f + ".format", "must be qcow2 or raw"));
                }
                if (file != null && !file.equals("disks/disk" + i + "." + format)) {
                    errors.add(new FieldError(f + ".file", "must be disks/disk" + i + "." + format));
                }
                JsonNode size = d.get("virtualSizeBytes");
                if (size == null || !size.isIntegralNumber() || !size.canConvertToLong() || size.longValue() < 1
                        || size.longValue() > MAX_VIRTUAL_BYTES) {
                    errors.add(new FieldError(f + ".virtualSizeBytes", "must be a whole number of bytes between 1 and "
                            + MAX_VIRTUAL_BYTES));
                } else {
                    total += size.longValue();
                    disks.add(new Disk(format, size.longValue()));
                }
            }
            if (total > capacity.storageFreeBytes()) {
                errors.add(new FieldError("manifest.disks", "the disks need " + (total >> 20) + " MiB but the storage"
                        + " has only " + (capacity.storageFreeBytes() >> 20) + " MiB free"));
            }
        }
        String name = requestedName != null ? requestedName : exportedName;
        if (!errors.isEmpty()) {
            throw refused(errors);
        }
        // The same rules as a create: name, description, vCPUs, memory, networks, forwards.
        VmValidator.Plan plan;
        try {
            plan = VmValidator.create(new VmRequests.Create(name, description, cpus, memory, null, null, null, nics,
                    false, null, null, null), capacity, ref -> null, networks, false); // disks: the export's
        } catch (ApiException e) {
            List<FieldError> renamed = e.errors().stream().map(x -> new FieldError(
                    x.field().equals("name") && requestedName != null ? "name" : "manifest.vm." + x.field(),
                    x.message())).toList();
            if (renamed.stream().allMatch(x -> x.field().equals("name"))) {
                throw ApiException.invalid(renamed);
            }
            throw refused(renamed);
        }
        return new ImportManifest(vmId, plan.name(), exportedName, plan.description(), plan.cpus(), plan.memoryMiB(),
                plan.nics(), macs, disks);
    }

    private static String text(JsonNode node, String key, String field, boolean required, List<FieldError> errors) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) {
            if (required) {
                errors.add(new FieldError(field, "is required"));
            }
            return null;
        }
        if (!v.isTextual()) {
            errors.add(new FieldError(field, "must be a string"));
            return null;
        }
        if (v.textValue().length() > 1000) {
            errors.add(new FieldError(field, "must be at most 1000 characters"));
            return null;
        }
        return v.textValue();
    }

    private static Integer integer(JsonNode node, String key, String field, List<FieldError> errors) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) {
            errors.add(new FieldError(field, "is required"));
            return null;
        }
        if (!v.isInt()) {
            errors.add(new FieldError(field, "must be a whole number"));
            return null;
        }
        return v.intValue();
    }

    /** 422 {@code invalid-export} naming every manifest field at fault. */
    static ApiException refused(List<FieldError> errors) {
        String detail = errors.stream().map(e -> e.field() + ": " + e.message()).reduce((a, b) -> a + "; " + b)
                .orElse("invalid manifest");
        return new ApiException(422, "invalid-export", "The export file cannot be imported",
                "the export's manifest is not acceptable: " + detail, errors);
    }
}
