# Reference for the object-aware crop: mmdet's RandomCrop, same size.
_base_ = './slim_stock.py'
train_dataloader = dict(
    dataset=dict(pipeline=[
        *_base_.train_pipeline[:2], _base_.plain_crop,
        *_base_.train_pipeline[2:]
    ]))
