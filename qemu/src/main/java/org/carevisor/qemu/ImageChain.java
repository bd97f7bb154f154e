package org.carevisor.qemu;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A disk image and its backing files, top first, each with the format Carevisor knows for it: what
 * {@link ImageChains} found and checked, or a file Carevisor has just made itself ({@link #single}). QEMU
 * ({@link #blockdevs}) and qemu-img ({@link #qemuImgSpec}) are given the chain node by node with every format
 * explicit and {@code "backing": null} at its end, so neither guesses a format nor reads a backing file name from
 * an image header. Immutable.
 *
 * @param links the top image first, then each backing file
 */
public record ImageChain(List<Link> links) {
    /** A plain mapper: every field written in the order given, nulls included. */
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * One file of the chain.
     *
     * @param file    absolute path
     * @param format  {@code qcow2} or {@code raw}
     * @param fileKey the file's identity (device and inode) when it was checked, or null for a file Carevisor made
     */
    public record Link(Path file, String format, Object fileKey) {
        public Link {
            Objects.requireNonNull(file, "file");
            Objects.requireNonNull(format, "format");
        }
    }

    public ImageChain {
        links = List.copyOf(links);
        if (links.isEmpty()) {
            throw new IllegalArgumentException("an image chain has at least one file");
        }
        for (int i = 0; i < links.size() - 1; i++) {
            if (!links.get(i).format().equals("qcow2")) {
                throw new IllegalArgumentException("only a qcow2 image has a backing file");
            }
        }
    }

    /** A file without backing file, e.g. one Carevisor has just written itself. */
    public static ImageChain single(Path file, String format) {
        return new ImageChain(List.of(new Link(file, format, null)));
    }

    public Link top() {
        return links.get(0);
    }

    public Path file() {
        return top().file();
    }

    public String format() {
        return top().format();
    }

    /** The backing files (empty for a stand-alone image). */
    public List<Link> backing() {
        return links.subList(1, links.size());
    }

    /**
     * The image as a qemu-img {@code json:} file name: the format driver on a {@code file} node, with the backing
     * files nested ({@code withBacking}) or {@code "backing": null} (qemu-img opens nothing but the top file).
     */
    public String qemuImgSpec(boolean withBacking) {
        ObjectNode node = imgNode(0, withBacking);
        try {
            return "json:" + JSON.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private ObjectNode imgNode(int i, boolean withBacking) {
        Link l = links.get(i);
        ObjectNode n = JSON.createObjectNode();
        n.put("driver", l.format());
        n.putObject("file").put("driver", "file").put("filename", l.file().toString());
        if (l.format().equals("qcow2")) {
            if (withBacking && i + 1 < links.size()) {
                n.set("backing", imgNode(i + 1, true));
            } else {
                n.putNull("backing");
            }
        }
        return n;
    }

    /**
     * The {@code -blockdev} values (one per option, bottom of the chain first) that open this chain in QEMU: a
     * {@code file} node and a format node per file; the top's format node is called {@code node} and is
     * read-only as asked, the backing files' nodes ({@code node-b1}, {@code node-b2}, ...) are read-only, and
     * every qcow2 node names its backing node or {@code null}.
     */
    public List<String> blockdevs(String node, boolean readOnly) {
        List<String> out = new ArrayList<>();
        for (int i = links.size() - 1; i >= 0; i--) {
            Link l = links.get(i);
            String name = nodeName(node, i);
            checkNodeName(name + "-file");
            ObjectNode file = JSON.createObjectNode();
            file.put("driver", "file").put("filename", l.file().toString()).put("node-name", name + "-file");
            ObjectNode format = JSON.createObjectNode();
            format.put("driver", l.format()).put("file", name + "-file").put("node-name", name);
            if (i == 0) {
                file.put("discard", "unmap");
                format.put("read-only", readOnly).put("discard", "unmap");
            } else {
                file.put("read-only", true);
                format.put("read-only", true);
            }
            if (l.format().equals("qcow2")) {
                if (i + 1 < links.size()) {
                    format.put("backing", nodeName(node, i + 1));
                } else {
                    format.putNull("backing");
                }
            }
            out.add(write(file));
            out.add(write(format));
        }
        return out;
    }

    /** The QEMU node name of file {@code i} of the chain of disk node {@code node}. */
    public static String nodeName(String node, int i) {
        return i == 0 ? node : node + "-b" + i;
    }

    private static void checkNodeName(String name) {
        if (name.length() > 31) {
            throw new QemuException("invalid-spec", "QEMU node name " + name + " is longer than 31 characters;"
                    + " use a shorter disk id");
        }
    }

    private static String write(ObjectNode n) {
        try {
            return JSON.writeValueAsString(n);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
