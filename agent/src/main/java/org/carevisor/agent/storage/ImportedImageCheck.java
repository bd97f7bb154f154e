package org.carevisor.agent.storage;

import java.nio.file.Path;
import org.carevisor.agent.AgentException;
import org.carevisor.qemu.ImageHeader;
import org.carevisor.qemu.QemuException;
import org.carevisor.qemu.QemuImg;

/**
 * Checks a disk image that came in an export file before any VM uses it: the image must be what the
 * manifest claims ({@code qemu-img info -f <format>}, QEMU never guesses the format, under {@code prlimit}),
 * stand alone (no backing file, no qcow2 external data file: either would let the image read or write another
 * file of the host, e.g. another VM's disk or {@code /etc/passwd}), not be encrypted, and have the virtual size the
 * manifest names, at most {@link ExportManifest#MAX_VIRTUAL_BYTES}. The qcow2 header is read by the agent first
 * ({@link ImageHeader}), so a backing file or data file is refused before qemu-img opens the image at all. A raw image
 * that starts like another image format (qcow2, qcow, QED, VMDK binary or text descriptor, VDI, VHD, VHDX,
 * Parallels, Bochs, cloop, LUKS: {@link ImageHeader#lookalike}) is refused too: Carevisor would always open it as
 * raw, but the file would be a trap for any tool that guesses formats, and the export side refuses to write one.
 * Every refusal is a 422 {@code invalid-export} naming the member. Thread-safe (stateless).
 */
final class ImportedImageCheck {
    private final QemuImg qemuImg;

    ImportedImageCheck(QemuImg qemuImg) {
        this.qemuImg = qemuImg;
    }

    /** Refuses {@code image} (the member {@code disk.file()}) unless it is a plain image as the manifest says. */
    void check(Path image, ExportManifest.Disk disk) {
        try {
            if (disk.format().equals("qcow2")) {
                ImageHeader.Qcow2 h = ImageHeader.readQcow2(image, disk.file());
                if (h.backingFile() != null) {
                    throw invalid(disk.file() + " has a backing file ('"
                            + ExportNames.printable(h.backingFile()) + "'); an exported disk must stand alone");
                }
                if (h.externalDataFile() || h.dataFile() != null) {
                    throw invalid(disk.file() + " has an external data file; an exported disk must stand alone");
                }
                if (h.encrypted()) {
                    throw invalid(disk.file() + " is encrypted; Carevisor imports no encrypted image");
                }
            } else {
                String other = ImageHeader.lookalike(ImageHeader.head(image));
                if (other != null) {
                    throw invalid(disk.file() + " is declared raw but starts like a " + other
                            + " image; it is refused so that nothing takes it for one");
                }
            }
        } catch (QemuException e) {
            throw invalid(e.getMessage());
        }
        QemuImg.UntrustedInfo info;
        try {
            info = qemuImg.untrustedInfo(image, disk.format());
        } catch (QemuException e) {
            throw invalid(disk.file() + " is not a valid " + disk.format() + " image (" + e.getMessage() + ")");
        }
        if (!disk.format().equals(info.format())) {
            throw invalid(disk.file() + " is declared " + disk.format() + " but qemu-img reads it as " + info.format());
        }
        if (info.backingFile() != null) {
            throw invalid(disk.file() + " has a backing file (" + ExportNames.printable(info.backingFile())
                    + "); an exported disk must stand alone");
        }
        if (info.dataFile() != null) {
            throw invalid(disk.file() + " has an external data file (" + ExportNames.printable(info.dataFile())
                    + "); an exported disk must stand alone");
        }
        if (info.virtualSize() <= 0 || info.virtualSize() > ExportManifest.MAX_VIRTUAL_BYTES) {
            throw invalid(disk.file() + " has a virtual size of " + info.virtualSize() + " bytes; at most "
                    + ExportManifest.MAX_VIRTUAL_BYTES + " are accepted");
        }
        if (info.virtualSize() != disk.virtualSizeBytes()) {
            throw invalid(disk.file() + " has a virtual size of " + info.virtualSize() + " bytes but the manifest"
                    + " says " + disk.virtualSizeBytes());
        }
    }

    private static AgentException invalid(String why) {
        return ExportManifest.invalid(why);
    }
}
