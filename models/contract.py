"""What every network is built for: the clip contract of Speech Drives Templates (docs/dataset.md).

Clips of 64 pose frames at 15 fps (4.27 s) with mono 16 kHz audio; poses in the 121-point model layout, x and y
per point.  One home for these numbers: the networks' configs default to them, and the workflow's dataset stages,
training and demo take them from here (through sdt.constants and sdt.layout), so nothing in models/ imports sdt.
"""

FPS = 15  # pose frames per second of every clip
CLIP_FRAMES = 64  # frames per clip: 4.27 s at 15 fps
AUDIO_RATE = 16000  # clip audio: mono, 16 kHz

# The 121-point model layout: the 137-point OpenPose layout without legs and ears, neck-relative, neck dropped
# (sdt.layout.KEEP_121 maps it to the 137 points).  "Left"/"right" are the person's own.
N_121 = 121
M_BODY = slice(0, 9)  # nose; right shoulder, elbow, wrist; left shoulder, elbow, wrist; right eye, left eye
M_RWRIST, M_LWRIST = 3, 6
M_FACE = slice(9, 79)  # the 68 iBUG face points, then the right and left pupils
M_NOSE_TIP = 39  # face point 30
M_LIP_UPPER_INNER, M_LIP_LOWER_INNER = 71, 75  # face points 62 and 66
M_LHAND = slice(79, 100)  # 21 points: wrist, thumb 1-4, index 5-8, middle 9-12, ring 13-16, little 17-20
M_RHAND = slice(100, 121)
