def train(model, data):
    metrics = ["loss", "val_loss", "accuracy", "val_accuracy"]

    BATCH_SIZE = 512
    TRAIN_DATA_SIZE = 5500
    VALIDATION_DATA_SIZE = 1000
    EPOCHS = 10

    train_xs, train_ys = data.training(TRAIN_DATA_SIZE)
    validation_xs, validation_ys = data.validation(VALIDATION_DATA_SIZE)

    return model.fit(
        train_xs, train_ys,
        batch_size=BATCH_SIZE,
        validation_data=(validation_xs, validation_ys),
        epochs=EPOCHS,
        shuffle=True,
        callbacks=[show.fit_callbacks(metrics)],
    )


history = train(model, data)
