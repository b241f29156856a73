"""A small convnet in the style of the Keras "Simple MNIST convnet" example.

The data is synthetic (no downloads here): 28x28 images whose class is the quadrant and size of a
bright square, so the network has something real to learn.
"""

import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

num_classes = 4
input_shape = (28, 28, 1)
rng = np.random.default_rng(0)


def make_images(n):
    images = rng.normal(0.0, 0.1, size=(n, 28, 28, 1)).astype("float32")
    labels = rng.integers(0, num_classes, size=n)
    for image, label in zip(images, labels):
        row, col = divmod(int(label), 2)
        image[row * 14 + 3 : row * 14 + 11, col * 14 + 3 : col * 14 + 11, 0] += 1.0
    return images, labels


x_train, y_train = make_images(512)
x_test, y_test = make_images(128)

# Convert class vectors to binary class matrices.
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(16, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(32, kernel_size=(3, 3), strides=2, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)
model.summary()

batch_size = 64
epochs = 5
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
predictions = model.predict(x_test[:8])
print("Predicted classes:", predictions.argmax(axis=1))
