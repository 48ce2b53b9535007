"""Built-in dataset plugins: each module declares its datasets and nothing else.

Owns: the datasets' declarations — names, versions, arguments, layouts, domains, labels and
where the data come from. Everything they share (reading volumes and images, slicing, caching,
splitting, serving) is the public toolkit :mod:`medganbench.data`; the volume datasets are
:class:`~medganbench.data.descriptor.VolumeDescriptor` instances. The phantom's generator is
split by concern: tissues, random anatomy, the label function, fields and rendering.

May import: core, data.
"""
